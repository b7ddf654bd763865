"""CloudWatch metrics in Embedded Metric Format, written by Powertools' Metrics (ADR 0017).

One namespace; every metric carries the dimensions ``Environment`` (``APP_ENV``) and
``Function`` (the role: ``media_process``, ``triage_run``), and at most one more of a small,
closed set (``Status``, ``ErrorCode``, ``MediaKind``). Ids (session, job, file, request) are
never dimensions: they go in the line as metadata, searchable with Logs Insights, free in
CloudWatch Metrics. The names here are the only names: the dashboard and the alarms of
``terraform/modules/operations`` use the same ones, and a test compares them.

Powertools is imported on the first emission, not with the handler: the metrics are written at
the end of an invocation, after its work, so a cold start's init does not pay for the import.
An emission that fails is logged (``metrics.emit_failed``) and never fails the invocation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from media_triage_shared.logging import get_logger
from media_triage_shared.media import MediaErrorCode
from media_triage_shared.models import FileRow, FileStatus, VerdictSummary
from media_triage_shared.vocabulary import FINAL_FILE_STATUSES, MediaType

NAMESPACE = "MediaTriage"
BASE_DIMENSIONS = ("Environment", "Function")
UNKNOWN = "unknown"  # MediaKind of a file judged before its type was known (or a code-less error)
LATE = "late"  # media_process.finalize.LATE: a file counted after its job's triage started
# Every value each extra dimension takes: closed sets, so the dashboard can list them.
DIMENSION_VALUES: dict[str, list[str]] = {
    "Status": sorted(s.value for s in FINAL_FILE_STATUSES),
    "ErrorCode": [*(c.value for c in MediaErrorCode), LATE, UNKNOWN],
    "MediaKind": [*(k.value for k in MediaType), UNKNOWN],
}

log = get_logger()


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    unit: str  # a CloudWatch unit name: Count, Milliseconds, None
    function: str  # the role that emits it
    dimension: str | None  # the one dimension besides BASE_DIMENSIONS, if any
    description: str

    @property
    def dimensions(self) -> tuple[str, ...]:
        return (*BASE_DIMENSIONS, self.dimension) if self.dimension else BASE_DIMENSIONS


MP, TR = "media_process", "triage_run"

# media_process: one file reaching its final status (counted by this invocation)
FILES_FINALIZED = Metric("FilesFinalized", "Count", MP, "Status", "Files by final status.")
INVALID_FILES = Metric("InvalidFiles", "Count", MP, "ErrorCode", "Invalid files by error code.")
PROCESSING_TIME = Metric(
    "ProcessingTime", "Milliseconds", MP, "MediaKind", "One file's processing, by kind."
)
# triage_run: one job completed (verdicts written, job row complete)
JOBS_COMPLETED = Metric("JobsCompleted", "Count", TR, None, "Jobs triaged to completion.")
PARTIAL_JOBS = Metric("PartialJobs", "Count", TR, None, "1 when a job was triaged partial.")
TRIAGE_TIME = Metric("TriageTime", "Milliseconds", TR, None, "Triage: rows -> verdicts written.")
TAIL = Metric(
    "Tail",
    "Milliseconds",
    TR,
    None,
    "Last file's processing start (its upload's end) -> verdicts written; 1 s resolution.",
)
JOB_TIME = Metric("JobTime", "Milliseconds", TR, None, "Job created (init) -> verdicts written.")
NOT_EVALUATED_FILES = Metric(
    "NotEvaluatedFiles", "Count", TR, None, "Files kept with reason 'not evaluated'."
)
GEMINI_INPUT_TOKENS = Metric("GeminiInputTokens", "Count", TR, None, "Gemini input tokens.")
GEMINI_OUTPUT_TOKENS = Metric("GeminiOutputTokens", "Count", TR, None, "Gemini output tokens.")
JOB_COST = Metric("JobCostUSD", "None", TR, None, "The job's cost in US dollars.")

ALL = (
    FILES_FINALIZED,
    INVALID_FILES,
    PROCESSING_TIME,
    JOBS_COMPLETED,
    PARTIAL_JOBS,
    TRIAGE_TIME,
    TAIL,
    JOB_TIME,
    NOT_EVALUATED_FILES,
    GEMINI_INPUT_TOKENS,
    GEMINI_OUTPUT_TOKENS,
    JOB_COST,
)


def catalogue() -> dict[str, Any]:
    """The namespace and every metric, as the Terraform dashboard reads them from
    ``terraform/modules/operations/metrics.json`` (``python -m media_triage_shared.metrics``
    writes that file; a test keeps it equal to this)."""
    return {
        "namespace": NAMESPACE,
        "metrics": {
            m.name: {
                "unit": m.unit,
                "function": m.function,
                "dimensions": list(m.dimensions),
                "values": DIMENSION_VALUES[m.dimension] if m.dimension else [],
                "description": m.description,
            }
            for m in ALL
        },
    }


def emit(
    environment: str,
    values: Mapping[Metric, float],
    *,
    dimension: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """One EMF line to stdout: ``values`` (metrics of one function sharing their dimensions),
    the extra ``dimension`` value when they have one, ``metadata`` (ids) as properties."""
    try:
        _emit(environment, values, dimension, metadata or {})
    except Exception as exc:  # metrics never fail the work they describe
        log.warning("metrics.emit_failed", error_type=type(exc).__name__, error=str(exc)[:300])


def _emit(
    environment: str,
    values: Mapping[Metric, float],
    dimension: str | None,
    metadata: Mapping[str, Any],
) -> None:
    if not values:
        return
    shapes = {(m.function, m.dimension) for m in values}
    if len(shapes) != 1:
        raise ValueError(f"one EMF line holds metrics of one shape, got {sorted(shapes)}")
    ((function, extra),) = shapes
    if (extra is None) != (dimension is None):
        raise ValueError(f"dimension {extra!r} needs a value (got {dimension!r})")
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
        AmazonCloudWatchEMFProvider,
    )

    # service="": no implicit "service" dimension even if POWERTOOLS_SERVICE_NAME is set.
    provider = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service="")
    provider.add_dimension("Environment", environment)
    provider.add_dimension("Function", function)
    if extra is not None and dimension is not None:
        provider.add_dimension(extra, dimension)
    for metric, value in values.items():
        provider.add_metric(name=metric.name, unit=metric.unit, value=value)
    for key, item in metadata.items():
        if item is not None:
            provider.add_metadata(key, item)
    provider.flush_metrics(raise_on_empty_metrics=True)


def file_finalized(
    environment: str, row: FileRow, duration_ms: float, metadata: Mapping[str, Any]
) -> None:
    """media_process counted ``row``: its status, its error code, its processing time."""
    emit(environment, {FILES_FINALIZED: 1}, dimension=row.status.value, metadata=metadata)
    if row.status is FileStatus.INVALID:
        code = row.error.code if row.error else UNKNOWN
        emit(environment, {INVALID_FILES: 1}, dimension=code, metadata=metadata)
    kind = row.media_type.value if row.media_type else UNKNOWN
    emit(environment, {PROCESSING_TIME: duration_ms}, dimension=kind, metadata=metadata)


def job_completed(
    environment: str,
    summary: VerdictSummary,
    *,
    tail_ms: float | None,
    job_ms: float | None,
    metadata: Mapping[str, Any],
) -> None:
    """triage_run completed a job: one line with its figures (those measured: a re-run has no
    tail, a local analyzer no tokens, a job whose cost was not computed no cost)."""
    values: dict[Metric, float | None] = {
        JOBS_COMPLETED: 1,
        PARTIAL_JOBS: int(summary.partial),
        TRIAGE_TIME: summary.duration_ms,
        TAIL: tail_ms,
        JOB_TIME: job_ms,
        NOT_EVALUATED_FILES: summary.not_evaluated,
        GEMINI_INPUT_TOKENS: summary.input_tokens,
        GEMINI_OUTPUT_TOKENS: summary.output_tokens,
        JOB_COST: summary.cost_usd,
    }
    measured = {m: v for m, v in values.items() if v is not None}
    emit(
        environment,
        measured,
        metadata={**metadata, "analyzer": summary.analyzer, "model": summary.model},
    )


def catalogue_json() -> str:
    import json

    return json.dumps(catalogue(), indent=2) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(catalogue_json())
