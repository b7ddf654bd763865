"""The model's JSON -> verdicts for the batch's own files, through ``ModelVerdict``.

The answer is checked, not trusted: ids the model invents are dropped, a repeated id counts
once, an entry without a usable verdict counts as omitted (asked again once by the scheduler).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from media_triage_shared.models import MediaItem, Verdict, VerdictKind
from triage_run.gemini.outcomes import Answered, Malformed
from triage_run.gemini.prompt import ModelVerdict


def _entries(text: str | None) -> list[Any] | Malformed:
    if not text:
        return Malformed("empty answer")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return Malformed(f"invalid JSON: {exc.msg} at {exc.pos}")
    entries = data.get("verdicts") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        return Malformed("no verdicts list in the answer")
    return entries


def to_verdict(answer: ModelVerdict, item: MediaItem) -> Verdict:
    return Verdict(
        file_id=answer.file_id,
        filename=item.filename,
        verdict=VerdictKind(answer.verdict),
        reason=answer.reason_or_default,
        score=answer.score,
        issues=list(answer.issues),
    )


def parse_answer(text: str | None, items: Sequence[MediaItem]) -> Answered | Malformed:
    """Tolerant per entry: one bad entry does not spoil the others."""
    entries = _entries(text)
    if isinstance(entries, Malformed):
        return entries
    by_id = {item.file_id: item for item in items}
    got: dict[str, Verdict] = {}
    unknown = repeated = 0
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        file_id = entry.get("fileId", entry.get("file_id"))
        if file_id not in by_id:
            unknown += 1
        elif file_id in got:
            repeated += 1
        else:
            try:
                answer = ModelVerdict.model_validate(entry)
            except ValidationError:
                continue  # unusable entry: the file counts as omitted
            got[file_id] = to_verdict(answer, by_id[file_id])
    missing = tuple(item for item in items if item.file_id not in got)
    return Answered(got, missing, unknown, repeated)
