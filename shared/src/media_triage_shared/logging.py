"""structlog configured once: contextvars, level, ISO UTC time, dict tracebacks, JSON.

Tracebacks are rendered WITHOUT frame locals: a frame of the HTTP API holds the Authorization
header, the session token and the Idempotency-Key, and a log line lives for 90 days.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_configured = False
# structlog's own ``dict_tracebacks`` shows every frame's locals (show_locals=True).
_dict_tracebacks = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
)


def configure_logging(level: str = "INFO") -> None:
    global _configured  # noqa: PLW0603 - configure once per process (Lambda container)
    if _configured:
        return
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _dict_tracebacks,
            structlog.processors.EventRenamer("event"),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level]),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    _configured = True


def bind_invocation(function: str, request_id: str, **ids: Any) -> None:
    """Start a fresh log context for one invocation (ids that are None are left out)."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        function=function, request_id=request_id, **{k: v for k, v in ids.items() if v is not None}
    )


def bind_ids(**ids: Any) -> None:
    """Add ids learnt during an invocation (e.g. after auth) to its log context."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in ids.items() if v is not None})


def get_logger() -> Any:
    return structlog.get_logger()
