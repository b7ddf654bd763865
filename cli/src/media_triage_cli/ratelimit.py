"""``--max-upload-rate``: one token bucket shared by every upload of a run, and a request body
that takes its bytes from it as they are sent.

The bucket hands out bytes at ``rate`` per second. A sender asks for ``n`` bytes: they are
reserved at once (the level may go below zero) and the sender sleeps until the level is back at
zero, so parallel senders queue for the budget in the order they asked and never together
exceed it. The level starts empty and refills up to ``burst`` (0.1 s of the rate): a sender
that slept longer than it asked for (a loaded machine) catches up from that reserve, and an
idle link cannot save up more than 0.1 s worth. :class:`PacedBody` reads the wrapped body in
chunks of about 20 ms of the rate and waits for each chunk before handing it to the HTTP
library, so the bytes leave at the rate while they are sent, not in bursts per request.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Protocol

# chunk of a paced body: about this many seconds of the rate, within [MIN_CHUNK, MAX_CHUNK]
CHUNK_SECONDS = 0.02
MIN_CHUNK = 1024
MAX_CHUNK = 64 * 1024
BURST_SECONDS = 0.1
MIN_RATE = 1000  # bytes per second: below it one chunk would take seconds

_UNITS = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}
_RATE = re.compile(
    r"^\s*(?P<value>\d+(?:\.\d*)?|\.\d+)\s*(?P<prefix>[kKmMgG]?)(?P<unit>bits?|bps|B|bytes?)"
    r"(?:/s)?\s*$"
)


class BadRate(ValueError):
    pass


def parse_rate(text: str) -> float:
    """``20Mbit``, ``500kbit``, ``20Mbps``, ``2.5MB``, ``800kB/s`` -> bytes per second (decimal
    prefixes: 1 Mbit = 1,000,000 bits). ``bit``/``bps`` are bits, ``B``/``byte`` bytes."""
    found = _RATE.match(text)
    if found is None:
        raise BadRate(
            f"invalid rate {text!r}: give a number and a unit per second, "
            "e.g. 20Mbit, 500kbit, 2.5MB (bit/bps = bits, B = bytes; k, M, G = 1000s)"
        )
    value = float(found["value"]) * _UNITS[found["prefix"].lower()]
    if found["unit"] in {"bit", "bits", "bps"}:
        value /= 8
    if value < MIN_RATE:
        raise BadRate(f"invalid rate {text!r}: at least 8kbit (1kB) per second")
    return value


def format_rate(bytes_per_second: float) -> str:
    """``2500000.0`` -> ``20 Mbit/s``."""
    bits = bytes_per_second * 8
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if bits >= factor:
            return f"{bits / factor:g} {prefix}bit/s"
    return f"{bits:g} bit/s"


class TokenBucket:
    """Bytes per second shared by threads; ``clock`` and ``sleep`` are injected in tests."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(rate * BURST_SECONDS, self.chunk)
        self._clock = clock
        self._sleep = sleep
        self._level = 0.0  # starts empty: no burst at the start of a run
        self._at = clock()
        self._lock = threading.Lock()

    @property
    def chunk(self) -> int:
        """Bytes a paced body sends per step."""
        return int(min(MAX_CHUNK, max(MIN_CHUNK, self.rate * CHUNK_SECONDS)))

    def reserve(self, n: int) -> float:
        """Take ``n`` bytes now; returns how long the caller must wait before sending them."""
        with self._lock:
            now = self._clock()
            self._level = min(self.burst, self._level + (now - self._at) * self.rate)
            self._at = now
            self._level -= n
            return max(0.0, -self._level / self.rate)

    def take(self, n: int) -> None:
        """Wait until ``n`` more bytes fit the rate."""
        wait = self.reserve(n)
        if wait > 0:
            self._sleep(wait)


class Body(Protocol):
    def read(self, size: int = -1) -> bytes: ...

    def __len__(self) -> int: ...


class PacedBody:
    """``body`` read in chunks of the bucket's size, each chunk waiting for its bytes."""

    def __init__(self, body: Body, bucket: TokenBucket) -> None:
        self._body = body
        self._bucket = bucket

    def __len__(self) -> int:
        return len(self._body)

    def read(self, size: int = -1) -> bytes:
        """At most one chunk per call (an HTTP library sends each as it comes); ``read()``
        with no size still returns the rest, paced chunk by chunk."""
        if size is not None and size >= 0:
            return self._chunk(min(size, self._bucket.chunk))
        out = bytearray()
        while chunk := self._chunk(self._bucket.chunk):
            out += chunk
        return bytes(out)

    def _chunk(self, size: int) -> bytes:
        data = self._body.read(size)
        if data:
            self._bucket.take(len(data))
        return data

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()
