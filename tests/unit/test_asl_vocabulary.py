"""The state machine speaks the job row's vocabulary: every status or phase it compares against
or writes (statemachine/triage.asl.json) is a ``JobStatus`` / ``JobPhase`` value, so a renamed
member cannot leave the machine waiting on a status nobody writes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from media_triage_shared.models import LIVE_JOB_STATUSES, JobPhase, JobStatus

ASL = Path(__file__).resolve().parents[2] / "statemachine" / "triage.asl.json"

# `#status = :x`, `#status <> :x`, `#status IN (:a, :b)`, `phase = :x` in an expression
_COMPARED = re.compile(r"(#status|#s|phase)\s*(?:=|<>)\s*(:\w+)")
_IN = re.compile(r"(#status|#s)\s+IN\s*\(([^)]*)\)")


def _states() -> dict[str, dict[str, Any]]:
    states: dict[str, dict[str, Any]] = json.loads(ASL.read_text())["States"]
    return states


def _choice_rules(rules: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for rule in rules:
        yield rule
        yield from _choice_rules(rule.get("And", []) + rule.get("Or", []))
        if "Not" in rule:
            yield from _choice_rules([rule["Not"]])


def _bound(expression: str) -> Iterator[tuple[str, str]]:
    """(attribute, placeholder) for each status/phase placeholder in an expression."""
    for attr, placeholder in _COMPARED.findall(expression):
        yield ("phase" if attr == "phase" else "status"), placeholder
    for _attr, group in _IN.findall(expression):
        for placeholder in re.findall(r":\w+", group):
            yield "status", placeholder


def literals() -> list[tuple[str, str, str]]:
    """(state, attribute, literal) for every status/phase literal in the machine."""
    found: list[tuple[str, str, str]] = []
    for name, state in _states().items():
        for rule in _choice_rules(state.get("Choices", [])):
            if rule.get("Variable") in {"$.job.status", "$.status"} and "StringEquals" in rule:
                found.append((name, "status", rule["StringEquals"]))
            if rule.get("Variable") in {"$.job.phase", "$.phase"} and "StringEquals" in rule:
                found.append((name, "phase", rule["StringEquals"]))
        params = state.get("Parameters", {})
        values = params.get("ExpressionAttributeValues", {})
        for key in ("UpdateExpression", "ConditionExpression"):
            for attr, placeholder in _bound(params.get(key, "")):
                found.append((name, attr, values[placeholder]["S"]))
    return found


def test_the_machine_names_statuses_and_phases() -> None:
    """The parser below sees what it should: a broken regex must not pass vacuously."""
    seen = {(attr, value) for _, attr, value in literals()}
    assert ("status", "cancelled") in seen
    assert ("status", "analyzing") in seen
    assert ("phase", "failed") in seen
    assert {v for a, v in seen if a == "status"} >= {s.value for s in LIVE_JOB_STATUSES}


@pytest.mark.parametrize(("state", "attr", "value"), literals())
def test_every_status_and_phase_literal_is_an_enum_member(
    state: str, attr: str, value: str
) -> None:
    members = {m.value for m in (JobStatus if attr == "status" else JobPhase)}
    assert value in members, f"{state} uses {attr} {value!r}, not one of {sorted(members)}"


def test_the_sleep_waits_only_on_live_statuses() -> None:
    """WaitForFiles stores its token while the job is live; the waker wakes exactly those."""
    params = _states()["WaitForFiles"]["Parameters"]
    waited = {
        params["ExpressionAttributeValues"][p]["S"]
        for attr, p in _bound(params["ConditionExpression"])
        if attr == "status"
    }
    assert waited == {s.value for s in LIVE_JOB_STATUSES}
