"""TriageRun core: the job's manifest -> analyzer -> one verdict per file -> job complete.

Pure: models and ports in, models out (no boto3, no environment, no logging setup).

Rules (SPEC section 7):
- only ``valid`` files go to the analyzer; ``invalid`` ones never do and get no verdict;
- ``duplicate`` files (same content as another file of the job) are discarded with issue
  ``duplicate`` and a reason naming the original, without asking the analyzer - unless that
  original never became ``valid`` (it failed after the duplicate claimed its content, or is
  still unfinished): then the earliest of its copies is promoted to ``valid`` and judged in
  its place, the other copies become its duplicates (``promote_orphaned_duplicates``; the
  rows change status only, the job's count is untouched);
- every valid file ends with exactly one verdict: whatever the analyzer leaves out (or has no
  preview to look at) is kept with reason "not evaluated";
- a re-run rewrites every verdict and only status, phase, summary and partial of the job row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from media_triage_shared import job_cost
from media_triage_shared.errors import NotFound
from media_triage_shared.job_cost import CostBasis, TokenTally
from media_triage_shared.models import (
    NOT_EVALUATED,
    FileRow,
    FileStatus,
    Issue,
    JobPhase,
    JobStatus,
    MediaItem,
    MediaRef,
    MediaType,
    TriageInput,
    TriageOutput,
    Verdict,
    VerdictKind,
    VerdictSummary,
)
from media_triage_shared.ports import Analyzer, FileRepository, JobRepository, ObjectStore
from triage_run.outcome import Triaged, last_file_at

MIB = 1024 * 1024
NOT_EVALUATED_SCORE = 50
DUPLICATE_SCORE = 0
NO_PREVIEW_REASON = f"{NOT_EVALUATED}: no preview of this file was available"

# Originals an analyzer may read directly when MediaProcess left no derived preview.
ORIGINAL_FALLBACK = {
    MediaType.PHOTO: ({"image/jpeg", "image/png", "image/webp"}, 20 * MIB),
    MediaType.VIDEO: ({"video/mp4", "video/quicktime", "video/webm"}, 15 * MIB),
}
_EXT_MIME = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "mp4": "video/mp4",
}
WRITE_CHUNK = 25
WRITE_THREADS = 8


@dataclass(frozen=True, slots=True)
class Manifest:
    items: list[MediaItem]  # valid files with something to look at
    no_preview: list[FileRow]  # valid files without any readable preview
    duplicates: list[FileRow]  # exact duplicates found by MediaProcess


def _mime_of(key: str, default: str) -> str:
    return _EXT_MIME.get(key.rsplit(".", 1)[-1].lower(), default)


def _media_for(row: FileRow) -> MediaRef | None:
    """The object to judge: display image, else thumbnail (photos); proxy, else thumbnail
    (videos); else the original when it is a small file of a type analyzers read."""
    if row.media_type is MediaType.VIDEO and row.proxy_key:
        return MediaRef(key=row.proxy_key, mime_type=_mime_of(row.proxy_key, "video/mp4"))
    if row.media_type is MediaType.PHOTO and row.display_key:
        return MediaRef(key=row.display_key, mime_type=_mime_of(row.display_key, "image/jpeg"))
    if row.thumbnail_key:
        return MediaRef(key=row.thumbnail_key, mime_type=_mime_of(row.thumbnail_key, "image/jpeg"))
    if row.media_type is not None:
        types, max_bytes = ORIGINAL_FALLBACK[row.media_type]
        if row.mime_type in types and row.size is not None and 0 < row.size <= max_bytes:
            return MediaRef(key=row.original_key, mime_type=row.mime_type, size=row.size)
    return None


@dataclass(frozen=True, slots=True)
class Reassignment:
    row: FileRow  # the duplicate as it becomes: valid (duplicate_of None) or a copy of another
    was_duplicate_of: str


def orphaned_duplicates(rows: Sequence[FileRow]) -> list[Reassignment]:
    """Duplicates whose original is not ``valid`` (issue 13 item 7e). MediaProcess claims a
    content fingerprint before the owner's expensive steps, so a copy can be marked
    ``duplicate`` of a file that then ends ``invalid`` (``internal``, ``late``) or never
    finishes: the content would get no verdict at all. Per orphaned original, the earliest
    copy (created first, then by fileId: deterministic, so a re-run changes nothing) becomes
    the valid representative and the other copies its duplicates."""
    by_id = {r.file_id: r for r in rows}
    groups: dict[str, list[FileRow]] = {}
    for r in rows:
        if r.status is FileStatus.DUPLICATE and r.duplicate_of:
            groups.setdefault(r.duplicate_of, []).append(r)
    out: list[Reassignment] = []
    for owner_id, copies in sorted(groups.items()):
        owner = by_id.get(owner_id)
        if owner is not None and owner.status is FileStatus.VALID:
            continue
        first, *others = sorted(copies, key=lambda r: (r.created_at, r.file_id))
        promoted = first.model_copy(update={"status": FileStatus.VALID, "duplicate_of": None})
        out.append(Reassignment(promoted, owner_id))
        out.extend(
            Reassignment(c.model_copy(update={"duplicate_of": first.file_id}), owner_id)
            for c in others
        )
    return out


def promote_orphaned_duplicates(rows: list[FileRow], files: FileRepository) -> list[FileRow]:
    """``rows`` with the orphaned duplicates reassigned, stored first (guarded per row)."""
    changes = orphaned_duplicates(rows)
    for change in changes:
        files.reassign_duplicate(change.row, was_duplicate_of=change.was_duplicate_of)
    changed = {c.row.file_id: c.row for c in changes}
    return [changed.get(r.file_id, r) for r in rows]


def build_manifest(rows: Sequence[FileRow], *, store: ObjectStore, url_ttl: int) -> Manifest:
    items: list[MediaItem] = []
    no_preview: list[FileRow] = []
    duplicates: list[FileRow] = []
    for row in rows:
        if row.status is FileStatus.DUPLICATE:
            duplicates.append(row)
            continue
        if row.status is not FileStatus.VALID:
            continue  # invalid / still uploading: never sent, no verdict
        media = _media_for(row)
        if media is None or row.media_type is None:
            no_preview.append(row)
            continue
        if url_ttl > 0:
            media = media.model_copy(update={"url": store.presign_get(media.key, url_ttl)})
        thumb = (
            MediaRef(key=row.thumbnail_key, mime_type=_mime_of(row.thumbnail_key, "image/jpeg"))
            if row.thumbnail_key
            else None
        )
        items.append(
            MediaItem(
                file_id=row.file_id,
                filename=row.filename,
                media_type=row.media_type,
                media=media,
                thumbnail=thumb,
                width=row.width,
                height=row.height,
                duration_seconds=row.duration_seconds,
            )
        )
    return Manifest(items, no_preview, duplicates)


def duplicate_verdict(row: FileRow, names: dict[str, str]) -> Verdict:
    original = names.get(row.duplicate_of or "")
    reason = f'duplicate of "{original}"' if original else "duplicate of another file in this batch"
    return Verdict(
        file_id=row.file_id,
        filename=row.filename,
        verdict=VerdictKind.DISCARD,
        reason=reason,
        score=DUPLICATE_SCORE,
        issues=[Issue.DUPLICATE.value],
    )


def not_evaluated(file_id: str, filename: str, reason: str = NOT_EVALUATED) -> Verdict:
    return Verdict(
        file_id=file_id,
        filename=filename,
        verdict=VerdictKind.KEEP,
        reason=reason,
        score=NOT_EVALUATED_SCORE,
    )


def reconcile(items: Sequence[MediaItem], verdicts: Sequence[Verdict]) -> list[Verdict]:
    """Exactly one verdict per item, in item order: the first answer for a known fileId wins
    (its filename is ours, not the analyzer's); unknown ids are dropped; omissions are kept
    with reason "not evaluated"."""
    answers: dict[str, Verdict] = {}
    for v in verdicts:
        answers.setdefault(v.file_id, v)
    out = []
    for item in items:
        answer = answers.get(item.file_id)
        if answer is None:
            out.append(not_evaluated(item.file_id, item.filename))
        else:
            out.append(answer.model_copy(update={"filename": item.filename}))
    return out


def _write_verdicts(files: FileRepository, rows: list[FileRow], verdicts: list[Verdict]) -> None:
    by_id = {v.file_id: v for v in verdicts}
    updated = [
        row.model_copy(
            update={
                "verdict": by_id[row.file_id].verdict,
                "reason": by_id[row.file_id].reason,
                "score": by_id[row.file_id].score,
                "issues": list(by_id[row.file_id].issues),
            }
        )
        for row in rows
        if row.file_id in by_id
    ]
    chunks = [updated[i : i + WRITE_CHUNK] for i in range(0, len(updated), WRITE_CHUNK)]
    if len(chunks) <= 1:
        for chunk in chunks:
            files.write_verdicts(chunk)
        return
    with ThreadPoolExecutor(max_workers=min(WRITE_THREADS, len(chunks))) as pool:
        for done in [pool.submit(files.write_verdicts, chunk) for chunk in chunks]:
            done.result()  # re-raises the first failed write


def _cancelled(req: TriageInput) -> TriageOutput:
    return TriageOutput(
        job_id=req.job_id, status=JobStatus.CANCELLED, keep=0, discard=0, partial=req.partial
    )


def _judge(
    rows: list[FileRow],
    *,
    store: ObjectStore,
    analyzer: Analyzer,
    deadline: float,
    tokens: TokenTally,
) -> list[Verdict]:
    """A verdict for every file: the analyzer's, "not evaluated", or "duplicate of"."""
    manifest = build_manifest(rows, store=store, url_ttl=analyzer.url_ttl_seconds)
    names = {r.file_id: r.filename for r in rows}
    answered = (
        analyzer.analyze(manifest.items, deadline=deadline, tokens=tokens) if manifest.items else []
    )
    return [
        *reconcile(manifest.items, answered),
        *(not_evaluated(r.file_id, r.filename, NO_PREVIEW_REASON) for r in manifest.no_preview),
        *(duplicate_verdict(r, names) for r in manifest.duplicates),
    ]


def _summary(
    verdicts: list[Verdict],
    analyzer: Analyzer,
    req: TriageInput,
    seconds: float,
    tokens: TokenTally,
    rows: list[FileRow],
    cost: CostBasis | None,
) -> VerdictSummary:
    keep = sum(v.verdict is VerdictKind.KEEP for v in verdicts)
    return VerdictSummary(
        keep=keep,
        discard=len(verdicts) - keep,
        analyzer=analyzer.name,
        model=analyzer.model,
        duration_ms=round(seconds * 1000),
        partial=req.partial,
        not_evaluated=sum(v.reason.startswith(NOT_EVALUATED) for v in verdicts),
        input_tokens=tokens.input_tokens if tokens.calls else None,
        output_tokens=tokens.output_tokens if tokens.calls else None,
        cost_usd=None
        if cost is None
        else job_cost.job_estimate(cost, rows, seconds, tokens, analyzer.model),
    )


def triage(
    req: TriageInput,
    *,
    files: FileRepository,
    jobs: JobRepository,
    store: ObjectStore,
    analyzer: Analyzer,
    budget_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    cost: CostBasis | None = None,
) -> Triaged:
    started = clock()
    job = jobs.get_job(req.session_id, req.job_id)
    if job is None:
        raise NotFound(f"job {req.job_id} of session {req.session_id} does not exist")
    if job.status is JobStatus.CANCELLED:
        return Triaged(_cancelled(req))

    if job.model:  # the init body's per-job override
        analyzer = analyzer.with_model(job.model)
    listed = files.list_files(req.job_id)
    rows = promote_orphaned_duplicates(listed, files)
    tokens = TokenTally()
    verdicts = _judge(
        rows, store=store, analyzer=analyzer, deadline=started + budget_seconds, tokens=tokens
    )
    _write_verdicts(files, rows, verdicts)

    current = jobs.get_job(req.session_id, req.job_id)
    if current is not None and current.status is JobStatus.CANCELLED:  # cancelled meanwhile
        return Triaged(_cancelled(req))
    summary = _summary(verdicts, analyzer, req, clock() - started, tokens, rows, cost)
    if not jobs.set_status(
        req.session_id,
        req.job_id,
        JobStatus.COMPLETE,
        JobPhase.DONE,
        summary=summary,
        partial=req.partial,
    ):  # cancelled between the read above and this write: the cancel wins
        return Triaged(_cancelled(req))
    output = TriageOutput(
        job_id=req.job_id,
        status=JobStatus.COMPLETE,
        keep=summary.keep,
        discard=summary.discard,
        partial=req.partial,
    )
    return Triaged(output, summary, job.created_at, last_file_at(listed))
