"""CloudWatch Embedded Metric Format: pick the EMF lines out of a function's output and check
each against the specification's structure (what CloudWatch Logs needs to extract metrics):

- the root is an object with ``_aws``: ``Timestamp`` (epoch milliseconds, an integer) and
  ``CloudWatchMetrics``, a non-empty array of directives;
- a directive has ``Namespace`` (1-255 characters), ``Dimensions`` (an array of dimension sets,
  each an array of at most 30 dimension names) and ``Metrics`` (1-100 ``{"Name", "Unit"?}``, the
  unit one of CloudWatch's);
- every dimension name is a member of the root with a string value; every metric name is a
  member of the root with a number (or an array of at most 100 numbers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
}  # fmt: skip


class EmfError(AssertionError):
    pass


@dataclass(frozen=True)
class EmfMetric:
    namespace: str
    name: str
    unit: str
    value: float
    dimensions: dict[str, str]  # the directive's dimension set (name -> value)
    root: dict[str, Any]  # the whole line (metadata included)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate(doc: dict[str, Any]) -> list[EmfMetric]:
    """The metrics of one EMF document; raises EmfError when it breaks the specification."""
    aws = doc.get("_aws")
    if not isinstance(aws, dict):
        raise EmfError("no _aws object")
    stamp = aws.get("Timestamp")
    if not isinstance(stamp, int) or isinstance(stamp, bool) or stamp < 10**12:
        raise EmfError(f"_aws.Timestamp must be epoch milliseconds, got {stamp!r}")
    directives = aws.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        raise EmfError("_aws.CloudWatchMetrics must be a non-empty array")
    out: list[EmfMetric] = []
    for directive in directives:
        out.extend(_directive(directive, doc))
    return out


def _directive(directive: Any, doc: dict[str, Any]) -> list[EmfMetric]:
    ns = directive.get("Namespace") if isinstance(directive, dict) else None
    if not isinstance(ns, str) or not 1 <= len(ns) <= 255:
        raise EmfError(f"bad Namespace {ns!r}")
    dim_sets = directive.get("Dimensions")
    if not isinstance(dim_sets, list) or not all(isinstance(s, list) for s in dim_sets):
        raise EmfError("Dimensions must be an array of arrays")
    for dim_set in dim_sets:
        if len(dim_set) > 30:
            raise EmfError("more than 30 dimensions in a set")
        for name in dim_set:
            if not isinstance(name, str) or not isinstance(doc.get(name), str):
                raise EmfError(f"dimension {name!r} is not a string member of the root")
    defs = directive.get("Metrics")
    if not isinstance(defs, list) or not 1 <= len(defs) <= 100:
        raise EmfError("Metrics must hold 1 to 100 definitions")
    out = []
    for metric in defs:
        name, unit = metric.get("Name"), metric.get("Unit", "None")
        if not isinstance(name, str) or not 1 <= len(name) <= 1024:
            raise EmfError(f"bad metric Name {name!r}")
        if unit not in UNITS:
            raise EmfError(f"metric {name}: unit {unit!r} is not a CloudWatch unit")
        value = doc.get(name)
        values = value if isinstance(value, list) else [value]
        if not values or len(values) > 100 or not all(_number(v) for v in values):
            raise EmfError(f"metric {name} has no numeric value at the root: {value!r}")
        for dim_set in dim_sets or [[]]:
            dims = {d: doc[d] for d in dim_set}
            out.extend(EmfMetric(ns, name, unit, float(v), dims, doc) for v in values)
    return out


def metrics_in(text: str) -> list[EmfMetric]:
    """Every metric of every EMF line in ``text`` (a function's output, one JSON per line,
    possibly after a prefix such as the emulator's); other lines are ignored."""
    found: list[EmfMetric] = []
    for line in text.splitlines():
        start = line.find("{")
        if start < 0 or '"_aws"' not in line:
            continue
        found.extend(validate(json.loads(line[start:])))
    return found
