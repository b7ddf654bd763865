"""Schemathesis against the deployed local stack, through HTTP: the OpenAPI document served at
``/api/openapi.json`` drives every request, and every response must be a non-5xx that the same
document describes (status code, content type, body schema, headers) and carry ``x-request-id``.

Two tests: each operation on its own (valid and invalid inputs, junk ids and tokens), and the
stateful workflow that follows the document's links from ``POST /api/triage/init`` to the job
routes with the new job's id and session token. Every job a test creates is cancelled (DELETE) so
the emulator's Step Functions threads do not pile up for the rest of the suite.

``make test`` runs the bounded profile (derandomized, a few seconds); ``make fuzz`` runs the long
one (``MEDIA_TRIAGE_FUZZ=long``: more examples, a fresh seed each run). The in-process fuzzing of
the dispatcher lives in tests/unit/init_session/test_api_openapi_fuzz.py; this one goes through
API Gateway's emulation, the Lambda runtime and the real tables.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis.core.failures import Failure
from schemathesis.specs.openapi.schemas import OpenApiSchema
from support.stack import Stack

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Profile:
    examples: int  # per operation, stateless
    scenarios: int  # stateful: each one starts with an init or two
    steps: int  # calls per stateful scenario, at most
    derandomize: bool


PROFILES = {
    # make test: ~10 s of requests, about 20 jobs created and cancelled, the same every run.
    "bounded": Profile(examples=12, scenarios=20, steps=4, derandomize=True),
    "long": Profile(examples=200, scenarios=200, steps=10, derandomize=False),
}
PROFILE = PROFILES[os.environ.get("MEDIA_TRIAGE_FUZZ", "bounded")]
_COMMON = settings(
    derandomize=PROFILE.derandomize,
    database=None,
    deadline=None,
    print_blob=not PROFILE.derandomize,
    suppress_health_check=list(HealthCheck),
)
STATELESS = settings(_COMMON, max_examples=PROFILE.examples)
# Generation only: replaying a scenario against a stack whose state moved on (a cancelled job, a
# spent Idempotency-Key) draws differently, which Hypothesis calls flaky; schemathesis' own
# runner makes the same choice (no shrinking; the failure report has every call as curl).
STATEFUL = settings(
    _COMMON,
    max_examples=PROFILE.scenarios,
    stateful_step_count=PROFILE.steps,
    phases=[Phase.generate],
)
FLAKY_RESTARTS = 3
# What the brief of SPEC section 3 promises: no 5xx, and a response the document describes.
CHECKS = {
    name: {"enabled": True}
    for name in (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
}


class MissingRequestId(Failure):
    """SPEC section 3: every response carries x-request-id, whatever its status."""

    code = "MT001"
    checks = ("x_request_id_on_every_response",)
    kind_title = "Missing x-request-id"


def x_request_id_on_every_response(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> bool | None:
    # response_headers_conformance covers documented statuses; this covers any status at all.
    if not response.headers.get("x-request-id"):
        raise MissingRequestId(
            operation=case.operation.label,
            message=f"{response.status_code} without an x-request-id header",
        )
    return None


@dataclass
class Tally:
    """What the fuzzers sent and got, printed at the end (``-s`` shows it)."""

    statuses: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)
    created: int = 0
    cancelled: int = 0
    restarts: int = 0

    def record(self, case: schemathesis.Case[Any], status: int) -> None:
        self.statuses[(case.operation.label, status)] += 1

    def report(self) -> str:
        lines = [
            f"api fuzz ({os.environ.get('MEDIA_TRIAGE_FUZZ', 'bounded')} profile): "
            f"{sum(self.statuses.values())} requests, {self.created} jobs created, "
            f"{self.cancelled} cancelled, {self.restarts} stateful restarts"
        ]
        by_op: dict[str, list[str]] = collections.defaultdict(list)
        for (label, status), n in sorted(self.statuses.items()):
            by_op[label].append(f"{status}x{n}")
        lines += [f"  {label}: {' '.join(counts)}" for label, counts in sorted(by_op.items())]
        return "\n".join(lines)


TALLY = Tally()


@pytest.fixture(scope="module")
def api_schema(stack: Stack) -> Iterator[OpenApiSchema]:
    config = schemathesis.Config.from_dict(
        {
            "base-url": stack.api_url,
            "request-timeout": 30,
            "cache": {"enabled": False},
            "generation": {"mode": "all", "database": "none"},
            "checks": {"enabled": False, **CHECKS},
        }
    )
    yield schemathesis.openapi.from_url(f"{stack.api_url}/api/openapi.json", config=config)
    print("\n" + TALLY.report())


def _cancel_if_created(stack: Stack, case: schemathesis.Case[Any], response: Any) -> None:
    """A 202 from init started an execution: cancel it at once (each one is a thread in moto)."""
    if case.operation.label != "POST /api/triage/init" or response.status_code != 202:
        return
    created = response.json()
    TALLY.created += 1
    cancel = requests.delete(
        f"{stack.api_url}/api/triage/{created['jobId']}",
        headers={"Authorization": f"Bearer {created['sessionToken']}"},
        timeout=30,
    )
    assert cancel.status_code == 200, cancel.text
    TALLY.cancelled += 1


lazy_schema = schemathesis.pytest.from_fixture("api_schema")


@lazy_schema.parametrize()
@STATELESS
def test_every_operation_answers_within_its_documented_responses(
    case: schemathesis.Case[Any], stack: Stack
) -> None:
    response = case.call()
    try:
        TALLY.record(case, response.status_code)
        case.validate_response(response, additional_checks=[x_request_id_on_every_response])
    finally:
        _cancel_if_created(stack, case, response)


def test_workflows_from_init_through_the_job_routes(
    api_schema: OpenApiSchema, stack: Stack
) -> None:
    """init -> (links: jobId in the path, the session token as bearer) -> any job route."""
    init = api_schema.raw_schema["paths"]["/api/triage/init"]["post"]
    links = init["responses"]["202"]["links"]
    assert {"addUploads", "getResults", "updateJob", "cancelJob", "retryJob"} <= set(links)
    base = api_schema.as_state_machine()

    class Workflow(base):  # type: ignore[valid-type, misc]
        def setup(self) -> None:
            self.jobs: list[tuple[str, str]] = []

        def after_call(self, response: schemathesis.Response, case: schemathesis.Case[Any]) -> None:
            super().after_call(response, case)
            TALLY.record(case, response.status_code)
            if case.operation.label == "POST /api/triage/init" and response.status_code == 202:
                body = response.json()
                self.jobs.append((body["jobId"], body["sessionToken"]))
                TALLY.created += 1

        def validate_response(
            self,
            response: schemathesis.Response,
            case: schemathesis.Case[Any],
            additional_checks: list[Any] | None = None,
            **kwargs: Any,
        ) -> None:
            extra = [*(additional_checks or []), x_request_id_on_every_response]
            super().validate_response(response, case, additional_checks=extra, **kwargs)

        def teardown(self) -> None:
            for job_id, token in self.jobs:
                cancel = requests.delete(
                    f"{stack.api_url}/api/triage/{job_id}",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                )
                assert cancel.status_code == 200, cancel.text
                TALLY.cancelled += 1
            super().teardown()

    for _ in range(FLAKY_RESTARTS):
        try:
            Workflow.run(settings=STATEFUL)
            break
        except FlakyStrategyDefinition:
            # The stack answered a replayed prefix differently (its state moved on): not a
            # finding. A failed check is a FailureGroup and propagates.
            TALLY.restarts += 1
    reached = {op for (op, status) in TALLY.statuses if status < 400 and "{jobId}" in op}
    # The links were followed: job routes answered with success, not only 401/404.
    assert reached, TALLY.report()
