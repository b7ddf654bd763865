from __future__ import annotations

import pytest

from media_triage_shared import keys


@pytest.mark.parametrize(
    ("raw", "filename"),
    [
        ("uploads/s1/j1/f1/IMG_0001.jpg", "IMG_0001.jpg"),
        ("uploads/s1/j1/f1/my+holiday+photo.jpg", "my holiday photo.jpg"),
        ("uploads/s1/j1/f1/100%25+done.png", "100% done.png"),
        ("uploads/s1/j1/f1/a%2Bb.jpg", "a+b.jpg"),
        ("uploads/s1/j1/f1/%E5%86%99%E7%9C%9F.heic", "写真.heic"),
    ],
)
def test_parse_url_encoded_event_keys(raw: str, filename: str) -> None:
    parsed = keys.parse_upload_key(raw)
    assert (parsed.session_id, parsed.job_id, parsed.file_id, parsed.filename) == (
        "s1",
        "j1",
        "f1",
        filename,
    )


@pytest.mark.parametrize(
    "raw",
    [
        "derived/s1/j1/f1/thumb.jpg",  # derived objects must never trigger processing
        "uploads/s1/j1/thumb.jpg",
        "uploads/s1/j1/f1/",
        "uploads/s1/j1/f1/sub/dir.jpg",
        "uploads/s..1/j1/f1/x.jpg",
        "uploads/../j1/f1/x.jpg",
    ],
)
def test_keys_outside_the_layout_are_refused(raw: str) -> None:
    with pytest.raises(keys.InvalidKey):
        keys.parse_upload_key(raw)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("a\x00b\nc.jpg", "abc.jpg"),
        ("C:\\Users\\me\\pic.jpg", "pic.jpg"),
        ("..", "file"),
        ("a/b?c*d.jpg", "b_c_d.jpg"),
        ("café.jpg", "café.jpg"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert keys.safe_filename(name) == expected


def test_safe_filename_caps_length_and_keeps_extension() -> None:
    name = keys.safe_filename("é" * 300 + ".jpeg")
    assert len(name.encode()) <= keys.MAX_FILENAME_BYTES
    assert name.endswith(".jpeg")


def test_upload_key_round_trips_through_event_encoding() -> None:
    from urllib.parse import quote_plus

    key = keys.upload_key("s1", "j1", "f1", "holiday photo 100%+.jpg")
    encoded = "/".join(quote_plus(part) for part in key.split("/"))
    assert keys.parse_upload_key(encoded).key == key
