"""A batch of files and what one model call for it came to (no SDK here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from media_triage_shared.models import MediaItem, Verdict

FailureKind = Literal["retryable", "rejected", "fatal", "deadline"]


@dataclass(frozen=True, slots=True)
class Batch:
    number: int
    items: tuple[MediaItem, ...]
    round: int = 1


@dataclass(frozen=True, slots=True)
class Answered:
    verdicts: dict[str, Verdict]
    missing: tuple[MediaItem, ...]
    unknown_ids: int
    repeated_ids: int


@dataclass(frozen=True, slots=True)
class Malformed:
    detail: str


@dataclass(frozen=True, slots=True)
class Failed:
    detail: str
    kind: FailureKind


Outcome = Answered | Malformed | Failed


def split_batches(items: Sequence[MediaItem], size: int) -> list[Batch]:
    """As few batches as ``size`` allows, as even as possible (36 -> 18 + 18, not 20 + 16)."""
    if not items:
        return []
    count = -(-len(items) // size)
    base, extra = divmod(len(items), count)
    batches, start = [], 0
    for number in range(count):
        end = start + base + (1 if number < extra else 0)
        batches.append(Batch(number, tuple(items[start:end])))
        start = end
    return batches
