"""Reading the model's answer: ``ModelVerdict`` validates each entry, leniently where a model
slips (and the response schema it declares is what the model is asked to follow)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from media_triage_shared.models import MediaItem, MediaRef, MediaType
from triage_run.gemini.outcomes import Answered, Malformed
from triage_run.gemini.parse import parse_answer
from triage_run.gemini.prompt import MAX_REASON, ModelAnswer

ITEMS = [
    MediaItem(
        file_id=f"f{i}",
        filename=f"IMG_{i}.jpg",
        media_type=MediaType.PHOTO,
        media=MediaRef(key=f"k{i}", mime_type="image/jpeg", url="https://s3.example/k"),
    )
    for i in range(3)
]


def answer(*entries: Any) -> Answered:
    out = parse_answer(json.dumps({"verdicts": list(entries)}), ITEMS)
    assert isinstance(out, Answered)
    return out


def test_a_sloppy_entry_is_read_leniently() -> None:
    out = answer(
        {
            "fileId": "f0",
            "verdict": " DISCARD ",
            "reason": "  too\n dark ",
            "score": 140.6,
            "issues": ["dark", "dark", "not-an-issue"],
        },
        {"file_id": "f1", "verdict": "keep", "score": "n/a"},
        {"fileId": "f2", "verdict": "discard", "reason": "x" * 1000, "score": -5, "issues": "dark"},
    )
    f0, f1, f2 = (out.verdicts[f"f{i}"] for i in range(3))
    assert (f0.verdict.value, f0.reason, f0.score, f0.issues) == (
        "discard",
        "too dark",
        100,
        ["dark"],
    )
    assert (f1.score, f1.reason, f1.issues) == (70, "keep (the model gave no reason)", [])
    assert f1.filename == "IMG_1.jpg"  # ours, not the model's
    assert (len(f2.reason), f2.score, f2.issues) == (MAX_REASON, 0, [])


def test_invented_repeated_and_unusable_entries() -> None:
    out = answer(
        {"fileId": "f0", "verdict": "keep", "reason": "ok", "score": 80, "issues": []},
        {"fileId": "f0", "verdict": "discard", "reason": "again", "score": 1, "issues": []},
        {"fileId": "zz", "verdict": "keep", "reason": "?", "score": 80, "issues": []},
        {"fileId": "f1", "verdict": "maybe", "reason": "?", "score": 80, "issues": []},
        "not an object",
    )
    assert out.verdicts["f0"].reason == "ok"  # the first one counts
    assert (out.unknown_ids, out.repeated_ids) == (1, 1)
    assert [m.file_id for m in out.missing] == ["f1", "f2"]  # unusable = omitted


@pytest.mark.parametrize("text", ["", "{", '{"verdicts": 3}', "{}"])
def test_no_verdict_list_is_malformed(text: str) -> None:
    assert isinstance(parse_answer(text, ITEMS), Malformed)


def test_the_schema_asks_for_every_field() -> None:
    schema = ModelAnswer.model_json_schema()["$defs"]["ModelVerdict"]
    assert schema["required"] == ["fileId", "verdict", "reason", "score", "issues"]
    assert schema["properties"]["verdict"]["enum"] == ["keep", "discard"]
