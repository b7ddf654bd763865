"""The end of a run as text: the keep / discard table with reasons, then what was not triaged
(invalid files with their error code, duplicates, failed uploads)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _cell(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def verdict_rows(results: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(verdict, filename, score, reason) for every file, keep first, then discard, then the
    files without a verdict."""
    rows: list[tuple[str, str, str, str]] = []
    verdicts = results.get("verdicts") or {}
    judged: set[str] = set()
    for kind in ("keep", "discard"):
        for v in sorted(verdicts.get(kind, []), key=lambda v: -(v.get("score") or 0)):
            judged.add(str(v.get("fileId")))
            issues = [str(i) for i in v.get("issues") or []]
            reason = str(v.get("reason") or "")
            if issues:
                reason = f"{reason} [{', '.join(issues)}]" if reason else f"[{', '.join(issues)}]"
            score = "" if v.get("score") is None else str(v["score"])
            rows.append((kind.upper(), str(v.get("filename")), score, reason))
    names = {str(f.get("fileId")): str(f.get("filename")) for f in results.get("files", [])}
    for f in results.get("files", []):
        if str(f.get("fileId")) in judged:
            continue
        status = str(f.get("status"))
        error = f.get("error") or {}
        if status == "duplicate":
            dup = f.get("duplicateOf")
            reason = f"duplicate of {names.get(str(dup), dup)}" if dup else "duplicate"
            label = "DUPLICATE"
        elif status == "invalid":
            reason = f"{error.get('code', 'invalid')}: {error.get('message', '')}".rstrip(": ")
            label = "INVALID"
        else:
            reason = status if not error else f"{status}: {error.get('code')}"
            label = "-"
        rows.append((label, str(f.get("filename")), "", reason))
    return rows


def table(results: Mapping[str, Any], *, width: int | None = None) -> str:
    """The human summary printed at the end of ``media-triage run``; reasons are cut to fit
    ``width`` columns when given (a terminal), whole otherwise."""
    rows = verdict_rows(results)
    verdicts = results.get("verdicts") or {}
    keep, discard = len(verdicts.get("keep", [])), len(verdicts.get("discard", []))
    title = (
        f"job {results.get('jobId')}: {results.get('status')}"
        f" - {keep} keep, {discard} discard, {len(rows) - keep - discard} not triaged"
    )
    if results.get("partial"):
        title += " (partial: triage ran on the files that arrived)"
    lines = [title]
    if results.get("analyzer"):
        model = f" ({results['model']})" if results.get("model") else ""
        lines.append(f"judged by: {results['analyzer']}{model}")
    if results.get("error"):
        lines.append(f"error: {results['error']}")
    name_w = max([8, *(len(r[1]) for r in rows)])
    name_w = min(name_w, 40)
    head = ("VERDICT", "FILE", "SCORE", "REASON")
    reason_w = max(20, width - 10 - name_w - 6 - 2) if width else 10_000

    def line(verdict: str, name: str, score: str, reason: str) -> str:
        return f"{verdict:<9} {name:<{name_w}} {score:>5}  {reason}"

    lines.append(line(*head))
    for verdict, name, score, reason in rows:
        lines.append(line(verdict, _cell(name, name_w), score, _cell(reason, reason_w)))
    return "\n".join(lines)


def failed_uploads(failures: Sequence[tuple[str, str, str]]) -> str:
    """Uploads the client gave up on: (filename, code, message)."""
    lines = [f"{len(failures)} upload(s) failed for good (expectedFileCount lowered):"]
    lines += [f"  {name}: {code} {message}".rstrip() for name, code, message in failures]
    return "\n".join(lines)
