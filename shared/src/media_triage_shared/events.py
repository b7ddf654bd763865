"""AWS event envelopes the functions receive (the S3 ObjectCreated notification): pydantic
models that tolerate the fields AWS adds, unlike our own contracts (models.Contract)."""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, ConfigDict, Field


class Envelope(BaseModel):
    """AWS envelopes: tolerate fields AWS adds."""

    model_config = ConfigDict(
        extra="ignore", frozen=True, populate_by_name=True, allow_inf_nan=False
    )


# ---------------------------------------------------------------------------- S3 event


class S3Bucket(Envelope):
    name: str


class S3Object(Envelope):
    key: str
    size: int | None = None
    e_tag: str | None = Field(default=None, validation_alias=AliasChoices("eTag", "e_tag"))
    sequencer: str | None = None


class S3Entity(Envelope):
    bucket: S3Bucket
    object: S3Object


class S3EventRecord(Envelope):
    event_name: str = Field(validation_alias=AliasChoices("eventName", "event_name"))
    s3: S3Entity


class S3Event(Envelope):
    records: list[S3EventRecord] = Field(
        default_factory=list, validation_alias=AliasChoices("Records", "records")
    )
