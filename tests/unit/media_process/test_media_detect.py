"""Type detection from content, never from the name."""

from __future__ import annotations

import pytest

from media_process.detect import extension_warning, sniff


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\x00" * 64


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "video/x-msvideo"),
        (_ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
        (_ftyp(b"mif1", b"mif1", b"heic"), "image/heic"),
        (_ftyp(b"mif1", b"mif1"), "image/heif"),
        (_ftyp(b"qt  ", b"qt  "), "video/quicktime"),
        (_ftyp(b"isom", b"isom", b"avc1"), "video/mp4"),
        (_ftyp(b"mp42"), "video/mp4"),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x10mdat", "video/quicktime"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
        (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
    ],
)
def test_supported_types_are_recognised_from_their_bytes(head: bytes, mime: str) -> None:
    assert sniff(head).mime_type == mime


@pytest.mark.parametrize(
    ("head", "label"),
    [
        (b"", "unrecognised data"),
        (b"hello, this is just text\n", "text file"),
        (b"  <!DOCTYPE html><html>", "HTML document"),
        (b"%PDF-1.7\n", "PDF document"),
        (b"PK\x03\x04\x14\x00", "ZIP archive"),
        (b"BM\x36\x00\x00\x00", "BMP image"),
        (b"II*\x00\x08\x00", "TIFF image"),
        (_ftyp(b"avif", b"mif1", b"avif"), "AVIF image"),
        (_ftyp(b"mif1", b"mif1", b"avif"), "AVIF image"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "WAV audio"),
        (bytes(range(256)) * 4, "unrecognised data"),
    ],
)
def test_anything_else_is_unsupported_with_what_it_looks_like(head: bytes, label: str) -> None:
    found = sniff(head)
    assert found.mime_type is None
    assert found.media_type is None
    assert found.label == label


@pytest.mark.parametrize(
    ("filename", "mime", "warns"),
    [
        ("IMG_1.JPG", "image/jpeg", False),
        ("IMG_1.jpeg", "image/jpeg", False),
        ("IMG_1.HEIC", "image/heif", False),
        ("clip.mp4", "video/quicktime", False),  # same container family
        ("clip.mkv", "video/webm", False),
        ("photo.jpg", "image/png", True),
        ("video.mov", "image/jpeg", True),
        ("noextension", "image/jpeg", True),
        ("report.pdf", "video/mp4", True),
    ],
)
def test_a_mismatched_extension_is_a_warning(filename: str, mime: str, warns: bool) -> None:
    message = extension_warning(filename, mime)
    assert (message is not None) == warns
    if message:
        assert message.startswith("extension_mismatch: ")
