from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# ---------------------------------------------------------------------------- idempotence
# The object is named safe_filename(name); MediaProcess reads the name back from the key. A
# name that changes when cleaned twice named a key nobody wrote (HEAD 404, or 403 on AWS).

_REGRESSIONS = [
    # > 200 bytes, and the cut lands right after a space (no extension)
    "a" * 199 + " b" + "c" * 50,
    # > 200 bytes with an extension: the stem's cut lands after a space or a dot
    "a" * 182 + " " + "b" * 40 + ".jpg",
    "a" * 182 + "." + "b" * 40 + ".jpg",
    # a 16-character "extension" ending in a space (the cut keeps 16 characters)
    "a" * 250 + ".abcdefghijklmno pq",
    "é" * 120 + ".jpeg  extension.x",
    # Hangul jamo around a removed control / format character: they compose once it is gone
    "\u1100\u200b\u1161.jpg",
    "\u1100\x00\u1161\u11a8 photo.jpg",
    "x\u1100\u2060\u1161",
    # a format character between a letter and a combining mark
    "e\u200d\u0301.png",
    # only removable characters, dots and spaces
    "\u200b. .\u200b",
]


@pytest.mark.parametrize("name", _REGRESSIONS)
def test_safe_filename_is_idempotent_on_known_traps(name: str) -> None:
    once = keys.safe_filename(name)
    assert keys.safe_filename(once) == once
    assert 0 < len(once.encode()) <= keys.MAX_FILENAME_BYTES
    assert once == unicodedata.normalize("NFC", once)
    assert once == once.strip(" .")


@settings(max_examples=400, deadline=None)
@given(st.text(min_size=0, max_size=320))
def test_safe_filename_is_idempotent(name: str) -> None:
    once = keys.safe_filename(name)
    assert keys.safe_filename(once) == once
    assert 0 < len(once.encode()) <= keys.MAX_FILENAME_BYTES


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(
            ["a", "é", " ", ".", "\u1100", "\u1161", "\u11a8", "\u200b", "\x00", "\u0301", "写"]
        ),
        min_size=150,
        max_size=260,
    )
)
def test_safe_filename_is_idempotent_near_the_length_cap(name: str) -> None:
    once = keys.safe_filename(name)
    assert keys.safe_filename(once) == once


def test_an_event_key_is_carried_through_verbatim() -> None:
    """The key MediaProcess reads is the event's (decoded), never one rebuilt from its name."""
    stored = "uploads/s1/j1/f1/ odd name .jpg"  # not what safe_filename would write today
    parsed = keys.parse_upload_key("uploads/s1/j1/f1/+odd+name+.jpg")
    assert parsed.key == stored
    assert parsed.filename == " odd name .jpg"
