"""Poison values never lose a file (issue 13, item 1): metadata a file carries (EXIF, container
tags) is untrusted - a field the row refuses is dropped, the file still ends valid - and an
unexpected failure ends the file ``invalid``/``internal`` on its last attempt, counted once,
instead of retrying into the dead-letter queue while the batch waits for it."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pytest
from conftest import JOB, NOW, SESSION, Env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, TiffImagePlugin
from support.corpus import BY_NAME, pattern
from support.fakes import FakeFileRepository, FakeJobRepository

from media_process import core
from media_process.adapters.probe import parse_probe
from media_triage_shared.deadline import Deadline
from media_triage_shared.media import (
    Capture,
    MediaFailure,
    PhotoResult,
    Rendition,
    VideoProbe,
)
from media_triage_shared.models import FINAL_FILE_STATUSES, FileStatus, Gps

# ---------------------------------------------------------------------------- real files


def _jpeg_with_gps_altitude(numerator: int, denominator: int) -> bytes:
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 29.52)
    gps[3], gps[4] = "E", (2.0, 17.0, 40.2)
    gps[5] = b"\x00"
    gps[6] = TiffImagePlugin.IFDRational(numerator, denominator)
    buf = io.BytesIO()
    pattern(320, 240, "nan-alt").save(buf, "JPEG", quality=85, exif=exif.tobytes())
    return buf.getvalue()


def test_a_photo_with_a_nan_gps_altitude_is_valid_without_the_altitude(env: Env) -> None:
    data = _jpeg_with_gps_altitude(0, 0)  # some phones write 0/0; Pillow reads NaN
    exif = Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)
    assert math.isnan(float(exif[6]))
    env.create_job()
    upload = env.put("nan altitude.jpg", data)

    outcome = env.process(upload)

    assert outcome.counted
    assert outcome.row.status is FileStatus.VALID, outcome.row.error
    assert outcome.row.gps is not None
    assert (outcome.row.gps.lat, outcome.row.gps.lon) == pytest.approx((48.8582, 2.2945), abs=1e-3)
    assert outcome.row.gps.alt is None
    assert env.processed_count() == 1
    stored = env.files.get_file(JOB, upload.file_id)
    assert stored is not None
    assert stored.counted


def test_a_video_location_with_an_absurd_altitude_keeps_the_position() -> None:
    huge = "+" + "9" * 400  # float() reads inf
    info = {
        "streams": [{"codec_type": "video", "codec_name": "h264", "width": 64, "height": 48}],
        "format": {"duration": "2.0", "tags": {"location": f"+48.8577+002.2950{huge}/"}},
    }
    probe = parse_probe(info, "MP4")
    assert isinstance(probe, VideoProbe)
    assert probe.capture.gps == Gps(lat=48.8577, lon=2.295)


# ---------------------------------------------------------------------------- any metadata

_ODD = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=300),
    st.binary(max_size=20),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    _ODD,
)
_GPS = st.one_of(
    st.none(),
    st.builds(
        lambda lat, lon, alt: Gps.model_construct(lat=lat, lon=lon, alt=alt),
        _NUMBER,
        _NUMBER,
        _NUMBER,
    ),
    _ODD,
)
_CAPTURE = st.builds(Capture, taken_at=_ODD, gps=_GPS, camera=_ODD)
_FAILURE = st.sampled_from([None, "raise", "timeout"])


def _rendition(duration: Any = None) -> Rendition:
    return Rendition(b"\xff\xd8\xff thumb", "image/jpeg", 4, 3, duration)


class PoisonTool:
    """A MediaTool whose answers carry whatever the hypothesis draws."""

    def __init__(self, draw: dict[str, Any]) -> None:
        self.d = draw

    def _maybe_raise(self, step: str) -> None:
        if self.d["raise_at"] == step:
            raise self.d["error"]

    def process_photo(self, data: bytes, mime_type: str, *, max_pixels: int) -> PhotoResult:
        self._maybe_raise("photo")
        return PhotoResult(
            width=self.d["width"],
            height=self.d["height"],
            capture=self.d["capture"],
            thumbnail=_rendition(),
            display=_rendition() if self.d["display"] else None,
            converted=False,
        )

    def probe_video(self, source_url: str, mime_type: str, *, deadline: Deadline) -> VideoProbe:
        self._maybe_raise("probe")
        return VideoProbe(
            container="mov,mp4",
            width=self.d["width"],
            height=self.d["height"],
            duration_seconds=self.d["duration"],
            fps=self.d["fps"],
            rotation=0,
            video_codec="h264",
            audio_codec=None,
            capture=self.d["capture"],
        )

    def video_thumbnail(
        self, source_url: str, mime_type: str, probe: VideoProbe, *, deadline: Deadline
    ) -> Rendition | MediaFailure:
        self._maybe_raise("thumbnail")
        return _rendition()

    def video_proxy(
        self, source_url: str, mime_type: str, probe: VideoProbe, *, deadline: Deadline
    ) -> Rendition | MediaFailure:
        self._maybe_raise("proxy")
        return _rendition(self.d["proxy_duration"])


_DRAWS = st.fixed_dictionaries(
    {
        "video": st.booleans(),
        "width": _NUMBER,
        "height": _NUMBER,
        "duration": _NUMBER,
        "fps": _NUMBER,
        "proxy_duration": _NUMBER,
        "capture": _CAPTURE,
        "display": st.booleans(),
        "raise_at": st.sampled_from([None, None, None, "photo", "probe", "thumbnail", "proxy"]),
        "error": st.sampled_from(
            [
                KeyError("x"),
                TypeError("odd"),
                ValueError("bad"),
                OverflowError("big"),
                ZeroDivisionError(),
            ]
        ),
    }
)
_PHOTO = b"\xff\xd8\xff\xe0" + b"\x00" * 64
_VIDEO_HEAD = BY_NAME["mp4"].data()[:4096]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(draw=_DRAWS)
def test_any_metadata_still_ends_final_and_counted_once(env: Env, draw: dict[str, Any]) -> None:
    jobs = FakeJobRepository()
    files = FakeFileRepository(jobs)
    trial = Env(env.store, jobs, files, PoisonTool(draw))
    trial.create_job()
    data = _VIDEO_HEAD if draw["video"] else _PHOTO
    upload = trial.put("clip.mp4" if draw["video"] else "photo.jpg", data)

    outcome = trial.process(upload)
    again = trial.process(upload)  # a second delivery changes nothing

    row = files.get_file(JOB, upload.file_id)
    assert row is not None
    assert row.status in FINAL_FILE_STATUSES
    assert row.counted
    assert outcome.counted
    assert not again.counted
    assert jobs.counters[(SESSION, JOB)] == 1
    row.to_item()  # storable: nothing non-finite, nothing of the wrong type
    json.dumps(row.model_dump(mode="json"), allow_nan=False)
    steps = {"probe", "thumbnail", "proxy"} if draw["video"] else {"photo"}
    if draw["raise_at"] in steps:  # an exception, not a MediaFailure: the last resort
        assert row.error is not None
        assert row.error.code in {"internal", "too_long", "too_many_pixels"}


# ---------------------------------------------------------------------------- last resort


class _Boom(Exception):
    """Stands for an AWS error (throttling, a 5xx) when ``transient`` says so."""


class ExplodingTool(PoisonTool):
    def __init__(self, error: Exception) -> None:
        super().__init__(
            {
                "raise_at": "photo",
                "error": error,
                "width": 1,
                "height": 1,
                "capture": Capture(),
                "display": False,
            }
        )


def _run(env: Env, tool: Any, *, transient: bool, max_attempts: int = 3) -> core.Outcome:
    upload = env.put("photo.jpg", _PHOTO, file_id="f-boom")
    limits = core.Limits(ttl_hours=24, stall_timeout_seconds=600, max_attempts=max_attempts)
    return core.process_upload(
        upload,
        store=env.store,
        files=env.files,
        jobs=env.jobs,
        media=tool,
        limits=limits,
        now=NOW,
        deadline=core.Deadline.after(60),
        transient=lambda exc: transient and isinstance(exc, _Boom),
    )


def test_an_unexpected_error_ends_the_file_internal_at_once(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    env.create_job()
    outcome = _run(env, ExplodingTool(KeyError("surprise")), transient=False)

    assert outcome.counted
    assert outcome.row.status is FileStatus.INVALID
    assert outcome.row.error is not None
    assert outcome.row.error.code == "internal"
    assert "surprise" not in outcome.row.error.message  # a safe message, not the exception
    assert env.processed_count() == 1
    assert "media.internal_error" in capsys.readouterr().out
    # A redelivery of the same event is a no-op: counted exactly once.
    assert not _run(env, ExplodingTool(KeyError("again")), transient=False).counted
    assert env.processed_count() == 1


def test_a_transient_error_is_retried_until_the_last_attempt(env: Env) -> None:
    env.create_job()
    tool = ExplodingTool(_Boom("ThrottlingException"))
    for attempt in (1, 2):
        with pytest.raises(_Boom):
            _run(env, tool, transient=True)
        row = env.files.get_file(JOB, "f-boom")
        assert row is not None
        assert (row.status, row.attempts, row.counted) == (FileStatus.PROCESSING, attempt, None)
    assert env.processed_count() == 0

    last = _run(env, tool, transient=True)  # Lambda's last retry: finalise, never raise

    assert last.counted
    assert last.row.attempts == 3
    assert last.row.error is not None
    assert last.row.error.code == "internal"
    assert env.processed_count() == 1


def test_a_transient_error_that_clears_on_a_retry_loses_nothing(env: Env) -> None:
    env.create_job()
    with pytest.raises(_Boom):
        _run(env, ExplodingTool(_Boom("SlowDown")), transient=True)
    media = env.media
    outcome = _run(env, media, transient=True)  # the real tools this time
    assert outcome.row.status is FileStatus.INVALID  # _PHOTO is only a JPEG header
    assert outcome.row.error is not None
    assert outcome.row.error.code == "corrupt"
    assert outcome.row.attempts == 2
    assert env.processed_count() == 1
