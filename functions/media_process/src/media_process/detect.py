"""The real type of an upload, from its first bytes (magic numbers), never from its name.

Pure functions: the core reads ``SNIFF_BYTES`` with one ranged GET and asks ``sniff``. The
decoders are then told which format to expect (Pillow ``formats=``, ffmpeg ``-f``), so a file
never reaches a decoder that guesses.
"""

from __future__ import annotations

from dataclasses import dataclass

from media_triage_shared.media import MediaWarningCode, warning
from media_triage_shared.models import MediaType

SNIFF_BYTES = 4096

JPEG, PNG, WEBP, GIF = "image/jpeg", "image/png", "image/webp", "image/gif"
HEIC, HEIF = "image/heic", "image/heif"
MP4, MOV, WEBM, MKV, AVI = (
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "video/x-matroska",
    "video/x-msvideo",
)

PHOTO_TYPES = frozenset({JPEG, PNG, WEBP, GIF, HEIC, HEIF})
VIDEO_TYPES = frozenset({MP4, MOV, WEBM, MKV, AVI})

LABELS = {
    JPEG: "JPEG",
    PNG: "PNG",
    WEBP: "WebP",
    GIF: "GIF",
    HEIC: "HEIC",
    HEIF: "HEIF",
    MP4: "MP4",
    MOV: "QuickTime",
    WEBM: "WebM",
    MKV: "Matroska",
    AVI: "AVI",
}

# Extensions a user's file may carry, by the family of types they may hold: an MP4/MOV or a
# WebM/MKV swap is normal (same container), anything else is reported.
_FAMILIES: dict[str, frozenset[str]] = {
    "jpg": frozenset({JPEG}),
    "jpeg": frozenset({JPEG}),
    "jpe": frozenset({JPEG}),
    "jfif": frozenset({JPEG}),
    "png": frozenset({PNG}),
    "webp": frozenset({WEBP}),
    "gif": frozenset({GIF}),
    "heic": frozenset({HEIC, HEIF}),
    "heif": frozenset({HEIC, HEIF}),
    "hif": frozenset({HEIC, HEIF}),
    "mp4": frozenset({MP4, MOV}),
    "m4v": frozenset({MP4, MOV}),
    "mov": frozenset({MP4, MOV}),
    "qt": frozenset({MP4, MOV}),
    "3gp": frozenset({MP4, MOV}),
    "webm": frozenset({WEBM, MKV}),
    "mkv": frozenset({WEBM, MKV}),
    "avi": frozenset({AVI}),
}

_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"mif2"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_QT_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})


@dataclass(frozen=True, slots=True)
class Detected:
    """What the bytes are. ``mime_type`` is None for anything unsupported; ``label`` says what
    it looks like, for the message."""

    mime_type: str | None
    label: str

    @property
    def media_type(self) -> MediaType | None:
        if self.mime_type in PHOTO_TYPES:
            return MediaType.PHOTO
        if self.mime_type in VIDEO_TYPES:
            return MediaType.VIDEO
        return None


def _supported(mime: str) -> Detected:
    return Detected(mime, LABELS[mime])


def _unsupported(label: str) -> Detected:
    return Detected(None, label)


def _iso_bmff(head: bytes) -> Detected:
    major = head[8:12]
    box_size = int.from_bytes(head[0:4], "big")
    end = min(len(head), box_size if 16 <= box_size <= 4096 else 64)
    brands = {major} | {head[i : i + 4] for i in range(16, end - 3, 4)}
    if major in _AVIF_BRANDS or (major in _HEIF_BRANDS and brands & _AVIF_BRANDS):
        return _unsupported("AVIF image")
    if major in _HEIC_BRANDS:
        return _supported(HEIC)
    if major in _HEIF_BRANDS:
        return _supported(HEIC if brands & _HEIC_BRANDS else HEIF)
    if major == b"qt  ":
        return _supported(MOV)
    if major.startswith(b"crx"):
        return _unsupported("Canon raw image")
    return _supported(MP4)  # isom, mp41, mp42, avc1, M4V, 3gp*, ...: the MP4 family


def _ebml(head: bytes) -> Detected:
    doc = head[:128]
    if b"webm" in doc:
        return _supported(WEBM)
    if b"matroska" in doc:
        return _supported(MKV)
    return _unsupported("EBML document")


def _looks_like_text(head: bytes) -> str | None:
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "HTML document"
    if stripped.startswith((b"<?xml", b"<svg")):
        return "SVG/XML document" if b"<svg" in stripped[:1024] else "XML document"
    if stripped.startswith((b"{", b"[")):
        return "JSON/text document"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in text)
    return "text file" if printable >= 0.95 * max(1, len(text)) else None


_OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF document"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"BM", "BMP image"),
    (b"8BPS", "Photoshop document"),
    (b"ID3", "MP3 audio"),
    (b"OggS", "Ogg media"),
    (b"fLaC", "FLAC audio"),
    (b"\x00\x00\x01\xba", "MPEG program stream"),
    (b"\x47", "MPEG transport stream"),
    (b"\x1f\x8b", "gzip archive"),
    (b"\xff\x0a", "JPEG XL image"),
)


def sniff(head: bytes) -> Detected:  # noqa: PLR0911 - one branch per magic
    """The type of a file from its first bytes (``SNIFF_BYTES`` of them is plenty)."""
    if head.startswith(b"\xff\xd8\xff"):
        return _supported(JPEG)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _supported(PNG)
    if head.startswith((b"GIF87a", b"GIF89a")):
        return _supported(GIF)
    if head.startswith(b"RIFF") and len(head) >= 12:
        kind = head[8:12]
        if kind == b"WEBP":
            return _supported(WEBP)
        if kind == b"AVI ":
            return _supported(AVI)
        return _unsupported("WAV audio" if kind == b"WAVE" else "RIFF file")
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _iso_bmff(head)
    if len(head) >= 8 and head[4:8] in _QT_ATOMS:
        return _supported(MOV)  # a classic QuickTime file without an ftyp box
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _ebml(head)
    if head.startswith(b"\xff\x4f\xff\x51") or head[4:12] == b"jP  \r\n\x87\n":
        return _unsupported("JPEG 2000 image")
    for magic, label in _OTHER_MAGIC:
        if head.startswith(magic) and (magic != b"\x47" or head[188:189] == b"\x47"):
            return _unsupported(label)
    return _unsupported(_looks_like_text(head) or "unrecognised data")


def extension_warning(filename: str, mime_type: str) -> str | None:
    """A warning when the name's extension promises another type than the content holds (the
    file is still processed by its content)."""
    stem, dot, ext = filename.rpartition(".")
    ext = ext.lower() if dot and stem else ""
    family = _FAMILIES.get(ext)
    if family is not None and mime_type in family:
        return None
    named = f"the name ends in .{ext}" if ext else "the name has no extension"
    return warning(
        MediaWarningCode.EXTENSION_MISMATCH,
        f"{named} but the content is {LABELS.get(mime_type, mime_type)}; processed as such",
    )
