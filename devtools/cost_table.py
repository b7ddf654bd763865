"""The cost table of `make cost`: a job's measured usage priced with the checked-in table
(``media_triage_shared.pricing``). Pure arithmetic, no I/O: devtools/cost.py measures,
this prices and prints.

    lines = price(usage, load_prices())
    aws, with_gemini = totals(lines)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from media_triage_shared.job_cost import gemini_cost, storage_cost
from media_triage_shared.pricing import Prices

GB = 1024**3
TARGET_AWS_36 = 0.0027  # the AWS cost of a 36-file job the design was approved on


@dataclass(frozen=True, slots=True)
class LambdaUse:
    function: str  # short name: media_process, triage_run, init_session
    invocations: int
    memory_mb: int
    billed_ms: float  # run + init, summed over the invocations
    log_bytes: int = 0

    @property
    def gb_seconds(self) -> float:
        return self.memory_mb / 1024 * self.billed_ms / 1000


@dataclass
class JobUsage:
    """What one job used, as measured on the local stack."""

    label: str
    files: int
    lambdas: list[LambdaUse] = field(default_factory=list)
    transitions: int = 0
    executions: int = 0
    rru: float = 0.0
    wru: float = 0.0
    polls: int = 0
    rru_per_poll: float = 0.0
    s3_tier1: int = 0
    s3_tier2: int = 0
    bytes_out: int = 0
    stored_bytes: int = 0
    storage_hours: float = 24.0
    http_requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    model: str | None = None
    summary_cost: float | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Line:
    service: str
    item: str
    quantity: str
    usd: float
    aws: bool = True


def _lambda_lines(job: JobUsage, p: Prices) -> list[Line]:
    out = []
    for fn in sorted(job.lambdas, key=lambda f: f.function):
        avg = fn.billed_ms / fn.invocations if fn.invocations else 0.0
        out.append(
            Line(
                "Lambda",
                f"{fn.function} ({fn.memory_mb} MB)",
                f"{fn.invocations} inv., {fn.gb_seconds:.2f} GB-s (avg {avg:.0f} ms as measured)",
                fn.invocations * p.lambda_request + fn.gb_seconds * p.lambda_gb_second,
            )
        )
    return out


def _dynamodb_lines(job: JobUsage, p: Prices) -> list[Line]:
    poll_rru = min(job.rru, job.polls * job.rru_per_poll)
    other = job.rru - poll_rru
    return [
        Line("DynamoDB", "writes", f"{job.wru:g} WRU", job.wru * p.dynamodb_wru),
        Line("DynamoDB", "reads by the functions", f"{other:g} RRU", other * p.dynamodb_rru),
        Line(
            "DynamoDB",
            "reads by the results polls",
            f"{job.polls} polls x {job.rru_per_poll:g} RRU (one poll of the final results: "
            "an upper bound)",
            poll_rru * p.dynamodb_rru,
        ),
    ]


def price(job: JobUsage, p: Prices) -> list[Line]:
    """Every priced item of the job, AWS first, Gemini last."""
    log_bytes = sum(fn.log_bytes for fn in job.lambdas)
    return [
        *_lambda_lines(job, p),
        Line(
            "Step Functions",
            "state transitions",
            f"{job.transitions} in {job.executions} execution(s)",
            job.transitions * p.state_transition,
        ),
        *_dynamodb_lines(job, p),
        Line(
            "S3",
            "PUT/POST/COPY/LIST (multipart parts incl.)",
            f"{job.s3_tier1}",
            job.s3_tier1 * p.s3_put,
        ),
        Line("S3", "GET/HEAD", f"{job.s3_tier2}", job.s3_tier2 * p.s3_get),
        Line(
            "S3",
            "storage until expiry",
            f"{job.stored_bytes / 1e6:.1f} MB x {job.storage_hours:g} h",
            storage_cost(p, job.stored_bytes, job.storage_hours),
        ),
        Line(
            "S3",
            "transfer out (page thumbnails, Gemini's URL fetches)",
            f"{job.bytes_out / 1e6:.2f} MB",
            job.bytes_out / GB * p.s3_transfer_out_gb,
        ),
        Line(
            "API Gateway",
            "HTTP API requests",
            f"{job.http_requests} ({job.polls} polls)",
            job.http_requests * p.http_api_request,
        ),
        Line(
            "CloudWatch",
            "log ingestion",
            f"{log_bytes / 1e3:.1f} KB",
            log_bytes / GB * p.logs_ingested_gb,
        ),
        Line(
            "Gemini",
            f"tokens ({job.model or 'no model'})",
            f"{job.input_tokens} in, {job.output_tokens} out",
            gemini_cost(p, job.model, job.input_tokens, job.output_tokens),
            aws=False,
        ),
    ]


def totals(lines: list[Line]) -> tuple[float, float]:
    """(AWS total, total with Gemini)."""
    aws = sum(line.usd for line in lines if line.aws)
    return aws, aws + sum(line.usd for line in lines if not line.aws)


def markdown(job: JobUsage, lines: list[Line]) -> str:
    aws, everything = totals(lines)
    rows = [
        f"**{job.label}**",
        "",
        "| service | item | measured | $ | share of AWS |",
        "|---|---|---|---:|---:|",
    ]
    for line in lines:
        share = f"{line.usd / aws:.0%}" if line.aws and aws else ""
        rows.append(
            f"| {line.service} | {line.item} | {line.quantity} | {line.usd:.7f} | {share} |"
        )
    rows.append(f"| **total AWS** | | | **{aws:.6f}** | |")
    rows.append(f"| **total with Gemini** | | | **{everything:.6f}** | |")
    if job.files == 36:
        verdict = "OK" if aws <= TARGET_AWS_36 else "OVER"
        rows.append(f"\nTarget: AWS cost of a 36-file job <= ${TARGET_AWS_36}: {verdict}.")
    if job.summary_cost is not None:
        rows.append(
            f"\nThe job's own estimate (summary costUsd, TriageRun's figures): "
            f"${job.summary_cost:.6f}."
        )
    rows.extend(f"\n{note}" for note in job.notes)
    return "\n".join(rows)
