"""The settings' environment reader (ADR 0020): what pydantic-settings did for us, kept."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from init_session.settings import ApiSettings

BASE = {
    "MEDIA_BUCKET": "bucket",
    "SESSIONS_TABLE": "sessions",
    "FILES_TABLE": "files",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:t",
    "TOKEN_SECRET_PARAM": "/t/secret",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_fields_come_from_variables_of_their_name_in_any_case(env: pytest.MonkeyPatch) -> None:
    env.setenv("rate_limit_burst", "7")
    s = ApiSettings.from_env()
    assert (s.media_bucket, s.files_table, s.rate_limit_burst) == ("bucket", "files", 7)
    assert s.multipart_part_bytes == 16 * 1024 * 1024  # default kept


def test_a_collection_reads_json_and_arguments_override(env: pytest.MonkeyPatch) -> None:
    env.setenv("ALLOWED_MODELS", '["gemini-2.5-pro", "gemini-2.5-flash"]')
    assert ApiSettings.from_env().allowed_models == ("gemini-2.5-pro", "gemini-2.5-flash")
    assert ApiSettings.from_env(media_bucket="other").media_bucket == "other"
    env.setenv("ALLOWED_MODELS", "gemini-2.5-pro")
    with pytest.raises(ValueError, match=r"allowed_models.*ALLOWED_MODELS"):
        ApiSettings.from_env()


def test_a_bad_or_missing_variable_fails_naming_the_field(env: pytest.MonkeyPatch) -> None:
    env.setenv("UPLOAD_URL_EXPIRY_SECONDS", "5")
    env.delenv("MEDIA_BUCKET")
    with pytest.raises(ValidationError) as caught:
        ApiSettings.from_env()
    assert {e["loc"][0] for e in caught.value.errors()} == {
        "upload_url_expiry_seconds",
        "media_bucket",
    }
    assert caught.value.title == "ApiSettings"


def test_settings_are_frozen(env: pytest.MonkeyPatch) -> None:
    s = ApiSettings.from_env()
    with pytest.raises(ValidationError):
        s.media_bucket = "x"  # type: ignore[misc]
