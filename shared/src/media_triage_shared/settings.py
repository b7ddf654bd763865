"""Settings shared by every function; each function subclasses ``BaseAppSettings``.

Validated at cold start: a missing or malformed variable fails fast with its name.
Endpoints come from ``AWS_ENDPOINT_URL`` (read by boto3 itself), never from a local-mode flag.

The settings are plain pydantic models fed by a small environment reader (``_from_env``), not
pydantic-settings: importing that package cost a cold start more than all of our models
(ADR 0020). The reader does what pydantic-settings did here: a field reads the variable of its
name in any case, a list/tuple/dict field reads JSON, keyword arguments override the
environment (``from_env``), and pydantic validates the result (same constraints, same errors).
"""

from __future__ import annotations

import json
import os
import types
import typing
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

_JSON_ORIGINS = (list, tuple, dict, set, frozenset)


def _wants_json(annotation: Any) -> bool:
    """Whether a field's value comes as JSON from the environment (a collection or a model)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_wants_json(a) for a in typing.get_args(annotation) if a is not type(None))
    if origin is not None:
        return origin in _JSON_ORIGINS
    return annotation in _JSON_ORIGINS or (
        isinstance(annotation, type) and issubclass(annotation, BaseModel)
    )


def _from_env(cls: type[BaseModel]) -> dict[str, Any]:
    """The class's fields found in the environment (names compared case-insensitively)."""
    env = {k.lower(): v for k, v in os.environ.items()}
    values: dict[str, Any] = {}
    for name, field in cls.model_fields.items():
        raw = env.get(name.lower())
        if raw is None:
            continue
        if _wants_json(field.annotation):
            try:
                values[name] = json.loads(raw)
            except ValueError as e:
                raise ValueError(
                    f'error parsing value for field "{name}" from the environment '
                    f"({name.upper()}): not JSON"
                ) from e
        else:
            values[name] = raw
    return values


class BaseAppSettings(BaseModel):
    """Built by ``from_env()``; a plain constructor call takes only its arguments."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    media_bucket: str = Field(min_length=3, description="Media bucket (originals + derived).")
    sessions_table: str = Field(min_length=3, description="Sessions/jobs DynamoDB table.")
    files_table: str = Field(min_length=3, description="media-file-processing DynamoDB table.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    app_env: str = "local"
    file_ttl_hours: float = Field(default=24, gt=0, description="TTL of rows and sessions.")
    stall_timeout_seconds: int = Field(
        default=600, ge=10, description="No progress for this long -> triage what arrived."
    )

    @classmethod
    def from_env(cls, **overrides: Any) -> Self:
        """The settings from the environment; keyword arguments override it."""
        return cls.model_validate({**_from_env(cls), **overrides})
