"""The page's vocabulary types are the server's: each string-literal union in web/src/types.ts
lists exactly the values of its Python enum (a new phase or status fails here, not in a
browser), and the page has words for every job phase and status."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import pytest

from media_triage_shared.vocabulary import FileStatus, JobPhase, JobStatus

ROOT = Path(__file__).resolve().parents[2]
TYPES = ROOT / "web/src/types.ts"
MESSAGES = ROOT / "web/src/messages.ts"
UNIONS = {"JobStatus": JobStatus, "JobPhase": JobPhase, "ServerFileStatus": FileStatus}


def union(source: str, name: str) -> set[str]:
    """The members of ``export type <name> = "a" | "b" ...;`` (nothing but string literals)."""
    found = re.search(rf"^export type {name} =([^;]*);", source, flags=re.MULTILINE)
    assert found, f"web/src/types.ts declares no type {name}"
    parts = [p.strip() for p in found.group(1).split("|") if p.strip()]
    assert all(re.fullmatch(r'"[a-z_]+"', p) for p in parts), f"{name} is not a string union"
    return {p.strip('"') for p in parts}


def record_keys(source: str, name: str) -> set[str]:
    """The keys of ``const <name>: Record<...> = { key: "..." , ... };`` in messages.ts."""
    found = re.search(rf"^const {name}: Record<\w+, string> = \{{(.*?)^\}};", source, re.M | re.S)
    assert found, f"web/src/messages.ts declares no record {name}"
    return set(re.findall(r"^\s+([a-z_]+): \"", found.group(1), flags=re.MULTILINE))


@pytest.mark.parametrize("name", sorted(UNIONS))
def test_each_union_lists_exactly_its_enum(name: str) -> None:
    enum: type[StrEnum] = UNIONS[name]
    assert union(TYPES.read_text(), name) == {m.value for m in enum}


def test_the_job_view_types_phase_and_status_by_the_unions() -> None:
    view = re.search(r"export interface JobView \{(.*?)\}", TYPES.read_text(), re.S)
    assert view
    assert re.search(r"^\s+status: JobStatus;", view.group(1), re.M)
    assert re.search(r"^\s+phase: JobPhase;", view.group(1), re.M)


@pytest.mark.parametrize(("record", "enum"), [("PHASES", JobPhase), ("STATUSES", JobStatus)])
def test_the_page_has_words_for_every_phase_and_status(record: str, enum: type[StrEnum]) -> None:
    assert record_keys(MESSAGES.read_text(), record) == {m.value for m in enum}


def test_the_parser_sees_a_difference() -> None:
    """The check can fail: a union with a member more or less is not the enum."""
    source = 'export type JobPhase = "waiting_for_files" | "done";\n'
    assert union(source, "JobPhase") != {m.value for m in JobPhase}
