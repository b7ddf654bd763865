"""DynamoDB request units of one request, counted as DynamoDB bills them (see ``usage``).

Writes are measured on moto's stored items before and after the request (the caller holds the
emulator's DynamoDB write lock, so nothing changes in between); reads on the whole stored items
they touched (a projection does not make a read cheaper).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from typing import Any

from local_aws.wsgi import Environ, StartResponse, read_body

KB, READ_UNIT = 1024, 4096
READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
Tally = Callable[[str, float, float], None]  # (table, rru, wru)


def _number_size(v: Any) -> int:
    digits = str(v).lstrip("-").replace(".", "").lstrip("0") or "0"
    return (len(digits) + 1) // 2 + 1


SCALAR_SIZE: dict[str, Callable[[Any], int]] = {
    "S": lambda v: len(str(v).encode("utf-8")),
    "N": _number_size,
    "B": lambda v: len(str(v)) * 3 // 4,  # base64 on the wire
    "BOOL": lambda _: 1,
    "NULL": lambda _: 1,
}


def attribute_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value in DynamoDB JSON, by DynamoDB's documented item size rules
    (strings and binaries by length, numbers ~1 byte per 2 digits + 1, lists and maps 3 bytes
    + 1 per element)."""
    (kind, v), *_ = value.items()
    if kind in SCALAR_SIZE:
        return SCALAR_SIZE[kind](v)
    if kind in {"SS", "NS", "BS"}:
        return sum(SCALAR_SIZE[kind[0]](e) for e in v)
    if kind == "L":
        return 3 + sum(1 + attribute_size(e) for e in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + attribute_size(e) for k, e in v.items())
    return 0


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(k.encode("utf-8")) + attribute_size(v) for k, v in item.items())


def _table(name: str) -> Any | None:
    from moto.dynamodb.models import dynamodb_backends

    for account in list(dynamodb_backends.values()):
        for backend in list(account.values()):
            table = backend.tables.get(name)
            if table is not None:
                return table
    return None


def stored_size(table_name: str, key: dict[str, Any]) -> int:
    """Size of the stored item with this key (0 when absent), read from moto's backend."""
    table = _table(table_name)
    if table is None or not key:
        return 0
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        item = table.get_item(hash_value, range_value)
    except Exception:  # a malformed key: the request itself fails, no size to count
        return 0
    return int(item.size()) if item is not None else 0


def key_of(table_name: str, item: dict[str, Any]) -> dict[str, Any]:
    table = _table(table_name)
    if table is None:
        return {}
    names = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
    return {n: item[n] for n in names if n in item}


def write_units(size: int) -> float:
    return float(max(1, math.ceil(size / KB)))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT))
    return float(units if consistent else units / 2)


def parse(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------------------- one request


def _write_targets(operation: str, data: dict[str, Any]) -> list[tuple[str, dict[str, Any], int]]:
    """(table, key, multiplier) of every item a write request touches."""
    if operation == "PutItem":
        table = str(data.get("TableName", ""))
        return [(table, key_of(table, data.get("Item") or {}), 1)]
    if operation in {"UpdateItem", "DeleteItem"}:
        return [(str(data.get("TableName", "")), data.get("Key") or {}, 1)]
    out: list[tuple[str, dict[str, Any], int]] = []
    if operation == "BatchWriteItem":
        for table, requests in (data.get("RequestItems") or {}).items():
            for request in requests:
                if "PutRequest" in request:
                    out.append((table, key_of(table, request["PutRequest"].get("Item", {})), 1))
                elif "DeleteRequest" in request:
                    out.append((table, request["DeleteRequest"].get("Key", {}), 1))
    elif operation == "TransactWriteItems":
        for entry in data.get("TransactItems") or []:
            for kind, spec in entry.items():
                table = str(spec.get("TableName", ""))
                key = key_of(table, spec.get("Item") or {}) if kind == "Put" else spec.get("Key")
                out.append((table, key or {}, 2))
    return out


def count_write(
    operation: str,
    environ: Environ,
    start_response: StartResponse,
    app: Callable[[Environ, StartResponse], Iterable[bytes]],
    tally: Tally,
) -> list[bytes]:
    """Serve a write through ``app`` (under the caller's write lock) and tally its WRUs."""
    targets = _write_targets(operation, parse(read_body(environ)))
    before = [stored_size(table, key) for table, key, _ in targets]
    body = list(app(environ, start_response))
    units: dict[str, float] = {}
    for (table, key, times), old in zip(targets, before, strict=True):
        new = stored_size(table, key)
        units[table] = units.get(table, 0.0) + times * write_units(max(old, new))
    for table, wru in units.items():
        tally(table, 0.0, wru)
    return body


def _read_units(operation: str, data: dict[str, Any], answer: dict[str, Any]) -> dict[str, float]:
    consistent = bool(data.get("ConsistentRead"))
    table = str(data.get("TableName", ""))
    if operation == "GetItem":
        return {table: read_units(stored_size(table, data.get("Key") or {}), consistent)}
    if operation in {"Query", "Scan"}:
        total = 0
        for item in answer.get("Items") or []:
            key = key_of(table, item)
            total += stored_size(table, key) if key else item_size(item)
        return {table: read_units(total, consistent)}
    units: dict[str, float] = {}
    if operation == "BatchGetItem":
        for name, spec in (data.get("RequestItems") or {}).items():
            strong = bool(spec.get("ConsistentRead"))
            for key in spec.get("Keys") or []:
                units[name] = units.get(name, 0.0) + read_units(stored_size(name, key), strong)
    elif operation == "TransactGetItems":
        for entry in data.get("TransactItems") or []:
            spec = entry.get("Get") or {}
            name = str(spec.get("TableName", ""))
            size = stored_size(name, spec.get("Key") or {})
            units[name] = units.get(name, 0.0) + 2 * read_units(size, True)
    return units


def count_read(
    operation: str,
    environ: Environ,
    start_response: StartResponse,
    app: Callable[[Environ, StartResponse], Iterable[bytes]],
    tally: Tally,
) -> list[bytes]:
    """Serve a read through ``app`` and tally its RRUs (only when it succeeded)."""
    data = parse(read_body(environ))
    status: list[str] = [""]

    def keep_status(code: str, headers: Any, exc_info: Any = None) -> Any:
        status[0] = code
        return start_response(code, headers, exc_info)

    body = list(app(environ, keep_status))
    if status[0].startswith("2"):
        answer = parse(b"".join(body)) if operation in {"Query", "Scan"} else {}
        for table, rru in _read_units(operation, data, answer).items():
            tally(table, rru, 0.0)
    return body
