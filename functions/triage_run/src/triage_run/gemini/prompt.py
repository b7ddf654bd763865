"""What the model is asked: the system instruction, the response schema and the request parts.

Each file goes as a text part naming its ``fileId`` followed by its media part: photos as
presigned URLs (``file_data``) or inline bytes within ``INLINE_BUDGET_BYTES`` per request,
videos always as presigned URLs with ``video/mp4``.

The response schema is also the parser: ``ModelVerdict`` tolerates what a model gets slightly
wrong (case and spaces in the verdict, a score out of range or missing, issues outside the
allowed values or repeated, a long or missing reason); an entry it still rejects (no usable
verdict) counts as omitted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from google.genai import types
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from media_triage_shared.models import Issue, MediaItem

INLINE_BUDGET_BYTES = 18 * 1024 * 1024  # the documented request limit is 20 MB, prompt incl.
INLINE_MIME_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic"})
MAX_REASON = 300
FALLBACK_SCORES = {"keep": 70, "discard": 20}
_ISSUES = frozenset(i.value for i in Issue)

SYSTEM_INSTRUCTION = """\
You help a person triage the photos and videos they just took: which are worth keeping.
Each file is introduced by a line "fileId: <id>" followed by the photo or video itself.
Return exactly one verdict per fileId, using the fileId verbatim:
- verdict: "discard" for technically failed or pointless shots (too dark, blown out, out of
  focus, motion blur, accidental shots of the ground or a pocket, nothing recognisable,
  corrupted images, closed eyes on the main subject, badly cut subject); otherwise "keep".
- reason: one short sentence the person will read, naming what is good or wrong.
- score: 0-100, how worth keeping the file is (discards below 50, keeps 50 and above).
- issues: the problems you see, from the allowed values only; empty when there are none.
Judge each file on its own content. Do not add fileIds that were not given."""


class ModelVerdict(BaseModel):
    """One element of the response schema the model must follow."""

    # The docstring and the field descriptions go to the model; the validators below make
    # reading lenient (see the module docstring) without changing the schema.

    model_config = ConfigDict(populate_by_name=True)

    file_id: str = Field(alias="fileId", description="The fileId given with the file, verbatim.")
    verdict: Literal["keep", "discard"]
    reason: str = Field(description="One short sentence for the person.")
    score: int = Field(ge=0, le=100, description="0-100: how worth keeping the file is.")
    issues: list[Issue] = Field(description="Problems seen; empty when none.")

    @model_validator(mode="before")
    @classmethod
    def _optional_details(cls, data: Any) -> Any:
        """Only the id and the verdict are needed; the rest falls back to defaults."""
        if isinstance(data, dict):
            return {"reason": "", "score": None, "issues": [], **data}
        return data

    @field_validator("verdict", mode="before")
    @classmethod
    def _verdict(cls, value: Any) -> str:
        return str("" if value is None else value).strip().lower()

    @field_validator("reason", mode="before")
    @classmethod
    def _one_line(cls, value: Any) -> str:
        return " ".join(str(value or "").split())[:MAX_REASON]

    @field_validator("score", mode="before")
    @classmethod
    def _clamped(cls, value: Any, info: ValidationInfo) -> int:
        try:
            return max(0, min(100, round(float(value))))
        except (TypeError, ValueError, OverflowError):
            return FALLBACK_SCORES.get(info.data.get("verdict", ""), 0)

    @field_validator("issues", mode="before")
    @classmethod
    def _known_issues(cls, value: Any) -> list[str]:
        if not isinstance(value, list):
            return []
        return list(dict.fromkeys(str(i) for i in value if str(i) in _ISSUES))

    @property
    def reason_or_default(self) -> str:
        return self.reason or f"{self.verdict} (the model gave no reason)"


class ModelAnswer(BaseModel):
    """The response schema: ``{"verdicts": [ModelVerdict, ...]}``."""

    verdicts: list[ModelVerdict]


def generation_config(timeout_seconds: float) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        system_instruction=SYSTEM_INSTRUCTION,
        response_mime_type="application/json",
        response_schema=ModelAnswer,
        temperature=0.2,
        http_options=types.HttpOptions(timeout=round(timeout_seconds * 1000)),
    )


def file_line(item: MediaItem) -> str:
    name = " ".join(item.filename.split())[:200]  # one line: no forged "fileId:" lines
    line = f"fileId: {item.file_id}\nfilename: {name}\ntype: {item.media_type}"
    if item.duration_seconds:
        line += f" ({item.duration_seconds:.0f} s)"
    return line


def request_parts(
    items: Sequence[MediaItem], inline_bytes: Callable[[MediaItem], bytes | None]
) -> list[types.Part]:
    """The user turn: a count, then per file its line and its media (inline while the budget
    lasts and ``inline_bytes`` gives bytes, else the presigned URL)."""
    parts = [types.Part.from_text(text=f"{len(items)} files follow.")]
    inline_left = INLINE_BUDGET_BYTES
    for item in items:
        ref = item.media
        parts.append(types.Part.from_text(text=file_line(item)))
        data = inline_bytes(item) if inline_left > 0 else None
        if data is not None and len(data) <= inline_left:
            inline_left -= len(data)
            parts.append(types.Part.from_bytes(data=data, mime_type=ref.mime_type))
        elif ref.url is not None:
            parts.append(types.Part.from_uri(file_uri=ref.url, mime_type=ref.mime_type))
        else:  # filtered out by analyze(); never send a fileId without its media
            raise ValueError(f"file {item.file_id} has neither bytes nor a URL")
    return parts
