"""One deadline type for every time-bounded piece of work (MediaProcess, its media tools).

A ``Deadline`` is a point on a monotonic clock; everything else - the seconds left, a
subprocess timeout, the share kept back for the final writes - is derived from it. The margins
between the Lambda timeout, the processing deadline and the final writes are named here once
(Terraform's timeouts relate to them: tests/unit/test_terraform.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

LAMBDA_MARGIN_SECONDS = 15.0
"""Kept back from the Lambda's own remaining time: the handler still logs and returns."""
FINALIZE_RESERVE_SECONDS = 5.0
"""Kept back from the processing deadline for the uploads and the final transaction."""
MIN_PROXY_SECONDS = 3.0
"""A proxy encode is not started with less time than this left (it would only be killed)."""


@dataclass(frozen=True, slots=True)
class Deadline:
    """The processing deadline, as a ``clock()`` value (``time.monotonic`` by default)."""

    at: float
    clock: Callable[[], float] = field(default=time.monotonic)

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    def before(self, seconds: float) -> Deadline:
        """This deadline moved ``seconds`` earlier (what a tool gets when a reserve is kept)."""
        return Deadline(self.at - seconds, self.clock)

    def remaining(self, reserve: float = 0.0) -> float:
        return self.at - self.clock() - reserve

    @property
    def passed(self) -> bool:
        return self.remaining() <= 0
