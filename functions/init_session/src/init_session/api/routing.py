"""What a route is: its method and path, the request it validates, the use case it runs and
what the OpenAPI document says about it. ``api.routes`` holds the table of them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from init_session.services import Services
from media_triage_shared.models import JobRow


@dataclass(frozen=True, slots=True)
class Call:
    """One matched, validated request, ready for a use case."""

    headers: dict[str, str]
    params: dict[str, str]
    job: JobRow | None
    body: Any
    svc: Services
    now: datetime
    client: str = "ip:unknown"  # http.client_identity: whom the abuse limits count
    query: Any = None  # the route's validated query model, if it declares one

    @property
    def the_job(self) -> JobRow:
        assert self.job is not None, "route declared auth=True"
        return self.job


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: BaseModel | dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    template: str
    operation_id: str
    summary: str
    run: Callable[[Call], Reply]
    status: int
    response: type[BaseModel] | None
    request: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    auth: bool = True
    errors: tuple[int, ...] = (400, 401, 403, 404, 413, 429, 500)
    description: str = ""

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template) + "$")
