"""The batch scheduler of one ``analyze`` call: batches in flight, rounds, splits, the deadline.

Several batches are in flight (a bounded thread pool), each through ``call(batch, deadline)``.
A batch that fails after the SDK's retries is sent again (``rounds``), alone: the batches that
succeeded are kept. Malformed answers are asked again once, omitted files are asked again
once, then left out (the core keeps them as "not evaluated"). A rejected batch is split to
isolate the file the API cannot read. Failing for good (a batch that never got through,
auth/model errors, no answer at all before the deadline) raises ``AnalyzerUnavailable``.
No SDK here: the calls and their outcomes are the analyzer's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from media_triage_shared.errors import AnalyzerUnavailable
from media_triage_shared.logging import get_logger
from media_triage_shared.models import MediaItem, Verdict
from triage_run.gemini.outcomes import Answered, Batch, Failed, Malformed, Outcome

BatchCall = Callable[[Batch, float], Outcome]

log = get_logger()


def run_batches(
    call: BatchCall, batches: list[Batch], *, deadline: float, rounds: int, concurrency: int
) -> dict[str, Verdict]:
    """Verdicts by file id for what the model answered before ``deadline``."""
    if not batches:
        return {}
    run = Scheduler(call, deadline, len(batches), rounds=rounds, concurrency=concurrency)
    run.execute(batches)
    return run.results


class Scheduler:
    """One ``analyze`` call: the batches in flight, what came back, what failed."""

    def __init__(
        self, call: BatchCall, deadline: float, batch_count: int, *, rounds: int, concurrency: int
    ) -> None:
        self.call = call
        self.rounds = rounds
        self.deadline = deadline
        self.batch_count = batch_count
        self.next_number = batch_count
        self.results: dict[str, Verdict] = {}
        self.given_up: list[Batch] = []
        self.parked: list[Batch] = []  # rejected batches waiting for evidence the API works
        self.answered_calls = 0
        self.last_error = ""
        self.pending: dict[Future[Outcome], Batch] = {}
        self.pool = ThreadPoolExecutor(
            max_workers=min(concurrency, batch_count), thread_name_prefix="gemini"
        )

    def submit(self, items: tuple[MediaItem, ...], round_: int, number: int | None = None) -> None:
        if number is None:
            number, self.next_number = self.next_number, self.next_number + 1
        batch = Batch(number, items, round_)
        self.pending[self.pool.submit(self.call, batch, self.deadline)] = batch

    def execute(self, batches: list[Batch]) -> None:
        try:
            for batch in batches:
                self.submit(batch.items, 1, batch.number)
            while self.pending:
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    break
                done, _ = wait(self.pending, timeout=remaining, return_when=FIRST_COMPLETED)
                for fut in done:
                    batch = self.pending.pop(fut)
                    self.handle(batch, fut.result())
        finally:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.conclude()

    def handle(self, batch: Batch, outcome: Outcome) -> None:
        again = batch.round < self.rounds
        if isinstance(outcome, Answered | Malformed):
            self.answered_calls += 1
            while self.parked:
                self.split(self.parked.pop())
        if isinstance(outcome, Answered):
            self.answered(batch, outcome, again)
        elif isinstance(outcome, Malformed):
            log.warning("triage.gemini_malformed", batch=batch.number, detail=outcome.detail)
            if again:
                self.submit(batch.items, batch.round + 1, batch.number)
        else:
            self.failed(batch, outcome, again)

    def answered(self, batch: Batch, outcome: Answered, again: bool) -> None:
        self.results.update(outcome.verdicts)
        if outcome.unknown_ids or outcome.repeated_ids:
            log.warning(
                "triage.gemini_answer_ids",
                batch=batch.number,
                unknown=outcome.unknown_ids,
                repeated=outcome.repeated_ids,
            )
        if outcome.missing:
            log.warning(
                "triage.gemini_omitted",
                batch=batch.number,
                omitted=len(outcome.missing),
                asking_again=again,
            )
            if again:
                self.submit(outcome.missing, batch.round + 1)

    def failed(self, batch: Batch, outcome: Failed, again: bool) -> None:
        self.last_error = outcome.detail
        log.warning(
            "triage.gemini_batch_failed",
            batch=batch.number,
            round=batch.round,
            files=len(batch.items),
            kind=outcome.kind,
            error=outcome.detail,
        )
        if outcome.kind == "fatal":
            raise AnalyzerUnavailable(f"gemini refused the request: {outcome.detail}")
        # A rejected batch is split to isolate the file the API cannot read: freely once other
        # calls got answers (one bad file), within the rounds otherwise, so that a refusal of
        # everything (e.g. URLs Gemini cannot reach) does not multiply the calls.
        if outcome.kind == "rejected" and len(batch.items) > 1:
            if again or self.answered_calls:
                self.split(batch)
            else:
                self.parked.append(batch)
        elif outcome.kind == "retryable" and again:
            self.submit(batch.items, batch.round + 1, batch.number)  # only this batch
        elif outcome.kind == "retryable":
            self.given_up.append(batch)
        # "rejected" single files and "deadline" ones stay unanswered: "not evaluated"

    def split(self, batch: Batch) -> None:
        half = len(batch.items) // 2
        self.submit(batch.items[:half], batch.round + 1)
        self.submit(batch.items[half:], batch.round + 1)

    def conclude(self) -> None:
        if self.given_up:
            files = sum(len(b.items) for b in self.given_up)
            raise AnalyzerUnavailable(
                f"gemini failed for {len(self.given_up)} of {self.batch_count} batches "
                f"({files} files) after {self.rounds} rounds of SDK retries: {self.last_error}"
            )
        if self.answered_calls == 0:
            cause = self.last_error or "no answer before the overall deadline"
            raise AnalyzerUnavailable(f"gemini gave no usable answer: {cause}")
        if self.pending:
            log.warning(
                "triage.gemini_deadline",
                unanswered=sum(len(b.items) for b in self.pending.values()),
            )
