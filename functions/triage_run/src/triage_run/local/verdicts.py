"""Judgements of measured files -> verdicts: issues, near-duplicate groups, scores."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from media_triage_shared.models import Issue, MediaItem, Verdict, VerdictKind
from triage_run.local.measures import (
    BLUR_THRESHOLD,
    DUPLICATE_MAX_DISTANCE,
    VIDEO_BLUR_THRESHOLD,
    Measures,
    hamming,
)

# Scores: keeps 55-100, discards 0-40, both rising with sharpness and exposure quality.
_KEEP_BASE, _KEEP_SPAN, _DISCARD_SPAN = 55, 45, 40


@dataclass
class Judgement:
    item: MediaItem
    issues: list[Issue]
    sharpness: float
    dhash: int | None  # None: carries no information (uniform image)
    details: list[str]
    quality: float  # 0..1, for the score
    duplicate_of: Judgement | None = field(default=None, repr=False)


def _details(m: Measures, issues: list[Issue], blur_threshold: float) -> list[str]:
    text = {
        Issue.DARK: f"too dark (mean brightness {m.mean:.0f}/255)",
        Issue.OVEREXPOSED: f"overexposed ({m.bright_fraction:.0%} of the picture blown out)",
        Issue.NO_SUBJECT: "almost uniform picture: nothing in frame",
        Issue.BLURRY: f"out of focus (sharpness {m.sharpness:.0f} < {blur_threshold:.0f})",
    }
    return [text[i] for i in issues if i in text]


def _quality(m: Measures, blur_threshold: float) -> float:
    sharp = min(1.0, m.sharpness / (8 * blur_threshold))
    exposure = 1.0 - max(m.dark_fraction, m.bright_fraction)
    return max(0.0, min(1.0, 0.6 * sharp + 0.4 * exposure))


def judge_frames(item: MediaItem, frames: Sequence[Measures], *, video: bool) -> Judgement:
    threshold = VIDEO_BLUR_THRESHOLD if video else BLUR_THRESHOLD
    per_frame = [f.issues(threshold) for f in frames]
    issues = [i for i in Issue if sum(i in found for found in per_frame) * 2 >= len(frames)]
    middle = sorted(frames, key=lambda f: f.sharpness)[len(frames) // 2]
    return Judgement(
        item=item,
        issues=issues,
        sharpness=statistics.median(f.sharpness for f in frames),
        dhash=None if middle.is_flat else frames[len(frames) // 2].dhash,
        details=_details(middle, issues, threshold),
        quality=statistics.fmean(_quality(f, threshold) for f in frames),
    )


def group_duplicates(judged: Sequence[Judgement]) -> None:
    """Mark near-duplicates (same media type, dHash distance <= threshold): in each group the
    best file (no other issue first, then the sharpest) stays, the others point at it."""
    parent = list(range(len(judged)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(judged):
        if a.dhash is None:
            continue
        for j in range(i + 1, len(judged)):
            b = judged[j]
            if (
                b.dhash is not None
                and a.item.media_type is b.item.media_type
                and hamming(a.dhash, b.dhash) <= DUPLICATE_MAX_DISTANCE
            ):
                parent[find(j)] = find(i)
    groups: dict[int, list[Judgement]] = {}
    for index, judgement in enumerate(judged):
        groups.setdefault(find(index), []).append(judgement)
    for members in groups.values():
        if len(members) < 2:
            continue
        best = max(members, key=lambda m: (not m.issues, m.sharpness))
        for member in members:
            if member is not best:
                member.duplicate_of = best


def to_verdict(j: Judgement) -> Verdict:
    issues = list(j.issues)
    details = list(j.details)
    if j.duplicate_of is not None:
        issues.append(Issue.DUPLICATE)
        details.append(f'near-duplicate of "{j.duplicate_of.item.filename}", which is sharper')
    if issues:
        return Verdict(
            file_id=j.item.file_id,
            filename=j.item.filename,
            verdict=VerdictKind.DISCARD,
            reason="; ".join(details),
            score=round(_DISCARD_SPAN * j.quality),
            issues=[i.value for i in issues],
        )
    kind = "video" if j.item.media_type.value == "video" else "photo"
    return Verdict(
        file_id=j.item.file_id,
        filename=j.item.filename,
        verdict=VerdictKind.KEEP,
        reason=f"well exposed and sharp {kind} (sharpness {j.sharpness:.0f})",
        score=_KEEP_BASE + round(_KEEP_SPAN * j.quality),
        issues=[],
    )
