"""The API's error codes are one vocabulary: ``ApiErrorCode``. Every code the API can raise is
in it, the OpenAPI document lists exactly its members, and the page has a sentence for each."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from init_session.api import http, openapi
from init_session.api.routes import ROUTES
from media_triage_shared import errors
from media_triage_shared.errors import ApiErrorCode, DomainError, JobCancelled

ROOT = Path(__file__).resolve().parents[3]
API_SOURCES = sorted((ROOT / "functions/init_session/src/init_session").rglob("*.py"))
ERRORS_SOURCE = ROOT / "shared/src/media_triage_shared/errors.py"
MESSAGES = ROOT / "web/src/messages.ts"
API_ERRORS = {
    name
    for name, cls in vars(errors).items()
    if isinstance(cls, type) and issubclass(cls, DomainError) and cls is not DomainError
} - {"JobCancelled", "JobStateChanged", "AnalyzerUnavailable"}  # the workflow's, not the API's


def _codes_used(path: Path) -> set[str]:
    """Members named as ``ApiErrorCode.X`` in a source file."""
    return {
        node.attr
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "ApiErrorCode"
    }


def test_every_code_the_api_raises_is_a_member() -> None:
    used = set().union(*(_codes_used(p) for p in [*API_SOURCES, ERRORS_SOURCE]))
    assert used, "the sources name no ApiErrorCode at all"
    assert used <= set(ApiErrorCode.__members__)
    # and none is spelled as a bare string where an error is raised or an error body built
    literal = []
    for path in [*API_SOURCES, ERRORS_SOURCE]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            if node.func.id not in API_ERRORS | {"ErrorBody"}:
                continue
            for kw in node.keywords:
                if kw.arg == "code" and isinstance(kw.value, ast.Constant):
                    literal.append(f"{path.name}:{node.lineno}")
    assert literal == []


@pytest.mark.parametrize("name", sorted(API_ERRORS))
def test_each_api_error_class_carries_a_member(name: str) -> None:
    assert isinstance(getattr(errors, name).code, ApiErrorCode)


def test_the_openapi_document_lists_exactly_the_enum() -> None:
    schemas = openapi.document(ROUTES)["components"]["schemas"]
    ref = schemas["ErrorBody"]["properties"]["code"]["$ref"]
    listed = schemas[ref.rsplit("/", 1)[-1]]["enum"]
    assert sorted(listed) == sorted(code.value for code in ApiErrorCode)


def test_the_page_has_a_sentence_for_every_code() -> None:
    keys = set(re.findall(r"^\s+([A-Za-z_]+): \"", MESSAGES.read_text(), flags=re.MULTILINE))
    missing = {code.value for code in ApiErrorCode} - keys
    assert missing == set()


def test_a_workflow_error_reaching_the_api_is_an_internal_error() -> None:
    """Not an API code, so not passed on: a 500 ``internal_error`` like any other bug."""
    status, body, _ = http.to_error(JobCancelled("job j was cancelled"))
    assert (status, body.code, body.message) == (500, "internal_error", "internal error")
