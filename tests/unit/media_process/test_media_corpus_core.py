"""Every corpus file through the core (fakes for S3/DynamoDB, real Pillow and ffmpeg): the final
status and code a user sees, the metadata, the derived objects, and one count per file."""

from __future__ import annotations

import pytest
from conftest import Env
from support.corpus import BY_NAME, CASES, DUPLICATE, INVALID, VALID, Case

from media_triage_shared.models import FileStatus


def _params() -> list[object]:
    return [
        pytest.param(case, id=case.name, marks=[pytest.mark.skip(reason=case.skip_reason())])
        if case.skip_reason()
        else pytest.param(case, id=case.name)
        for case in CASES
    ]


@pytest.mark.parametrize("case", _params())
def test_corpus_file_reaches_its_expected_final_state(env: Env, case: Case) -> None:
    env.create_job(expected=2)
    if case.duplicate_of:  # the file it repeats was processed first
        env.process(env.put(BY_NAME[case.duplicate_of].filename, case.data(), file_id="first"))
    data = case.data()
    upload = env.put(case.filename, data, file_id="target")
    env.uploading_row(upload, case.filename, len(data))

    outcome = env.process(upload)
    row = outcome.row

    assert outcome.counted
    assert row.status.value == case.status, row.error
    assert (row.error.code if row.error else None) == case.code
    if case.status == INVALID:
        assert row.error is not None
        assert row.error.message  # a human sentence, not just the code
    if case.media_type:
        assert row.media_type is not None
        assert row.media_type.value == case.media_type
        assert row.mime_type == case.mime_type
    if case.width is not None:
        assert (row.width, row.height) == (case.width, case.height)
    assert env.derived("target") == set(case.derived)
    if case.status == DUPLICATE:
        assert row.duplicate_of == "first"
    if case.warning:
        assert any(w.startswith(f"{case.warning}:") for w in row.warnings or [])
    elif case.status == VALID:
        assert not [w for w in row.warnings or [] if w.startswith("extension_mismatch")]
    # The row is final and counted once; the name the user gave is kept verbatim.
    stored = env.files.get_file("job1", "target")
    assert stored is not None
    assert stored.counted
    assert stored.filename == case.filename
    assert env.processed_count() == (2 if case.duplicate_of else 1)
    # The original is never modified or removed.
    assert env.store.objects[upload.key][0] == data


def test_photo_metadata_comes_from_exif(env: Env) -> None:
    env.create_job()
    row = env.process(env.put("IMG_0001.jpg", BY_NAME["jpeg_exif"].data())).row
    assert row.taken_at == "2024-05-01T10:20:30+02:00"
    assert row.gps is not None
    assert (round(row.gps.lat, 4), round(row.gps.lon, 4)) == (48.8566, 2.3522)
    assert row.camera == "Canon EOS R5"
    assert row.fingerprint is not None
    assert row.fingerprint.startswith("sha256:")


def test_converted_flags_follow_the_derived_objects(env: Env) -> None:
    env.create_job(expected=4)
    heic = env.process(env.put("a.heic", BY_NAME["heic"].data())).row
    large = env.process(env.put("b.jpg", BY_NAME["jpeg_large"].data())).row
    small = env.process(env.put("c.jpg", BY_NAME["unicode_name"].data())).row
    video = env.process(env.put("d.mp4", BY_NAME["mp4"].data())).row
    assert (heic.converted, large.converted, small.converted, video.converted) == (
        True,
        True,
        False,
        True,
    )
    assert heic.display_key is not None
    assert heic.display_key.endswith("/display.jpg")
    assert video.proxy_key is not None
    assert video.proxy_key.endswith("/proxy.mp4")
    assert video.duration_seconds == pytest.approx(2.0, abs=0.1)


def test_a_whole_batch_counts_every_file_once(env: Env) -> None:
    cases = [c for c in CASES if c.skip_reason() is None]
    env.create_job(expected=len(cases))
    statuses = {}
    for case in cases:
        statuses[case.name] = env.process(env.put(case.filename, case.data())).row.status
    assert env.processed_count() == len(cases)
    assert statuses["jpeg_duplicate"] is FileStatus.DUPLICATE
    assert all(env.files.get_file("job1", f"f{i:03d}") for i in range(1, len(cases) + 1))
    # Nothing was ever written outside derived/.
    assert all(k.startswith(("uploads/", "derived/")) for k in env.store.objects)
