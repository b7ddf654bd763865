"""The Pillow adapter on generated photos: orientation, HEIC, display copies, the draft decode
path, the pixel guard and metadata."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from PIL.JpegImagePlugin import JpegImageFile
from support.corpus import BY_NAME, _exif, encode, heic, jpeg, pattern, png_declared

from media_process.adapters.photo import PillowPhotoTool
from media_triage_shared.media import MediaErrorCode, MediaFailure, PhotoResult

LIMIT = 100_000_000
TOOL = PillowPhotoTool()


def _ok(data: bytes, mime: str, *, max_pixels: int = LIMIT) -> PhotoResult:
    result = TOOL.process_photo(data, mime, max_pixels=max_pixels)
    assert isinstance(result, PhotoResult), result
    return result


def _open(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    assert im.format == "JPEG"
    return im


def test_exif_orientation_is_applied_to_the_thumbnail() -> None:
    result = _ok(BY_NAME["jpeg_rotated"].data(), "image/jpeg")  # stored 640x480, orientation 6
    assert (result.width, result.height) == (480, 640)
    assert (result.thumbnail.width, result.thumbnail.height) == (300, 400)
    thumb = _open(result.thumbnail.data).convert("RGB")
    assert thumb.size == (300, 400)
    # The white block drawn top-left of the stored pixels is top-right once rotated 90 CW.
    assert min(thumb.getpixel((295, 5))) > 230  # type: ignore[type-var]
    assert min(thumb.getpixel((5, 5))) < 230  # type: ignore[type-var]


@pytest.mark.parametrize(
    ("orientation", "size"),
    [(1, (400, 300)), (3, (400, 300)), (5, (300, 400)), (8, (300, 400))],
)
def test_every_orientation_gives_the_displayed_shape(
    orientation: int, size: tuple[int, int]
) -> None:
    data = jpeg(640, 480, f"o{orientation}", exif=_exif(orientation=orientation))
    result = _ok(data, "image/jpeg")
    assert (result.thumbnail.width, result.thumbnail.height) == size


def test_heic_becomes_a_jpeg_display_copy_with_its_own_orientation() -> None:
    result = _ok(heic(80, 60, "heic-rot", orientation=6), "image/heic")
    # libheif applies the irot transform; the EXIF copy must not rotate it a second time.
    assert (result.width, result.height) == (60, 80)
    assert result.converted
    assert result.display is not None
    assert _open(result.display.data).size == (60, 80)
    assert _open(result.thumbnail.data).size == (60, 80)  # small: never upscaled
    assert result.capture.camera == "Apple iPhone 15"


def test_display_copy_only_above_2048_px() -> None:
    at_limit = _ok(jpeg(2048, 1000, "at"), "image/jpeg")
    above = _ok(jpeg(2100, 1000, "above"), "image/jpeg")
    assert at_limit.display is None
    assert above.display is not None
    assert (above.display.width, above.display.height) == (2048, 975)
    assert _open(above.display.data).size == (2048, 975)
    assert not above.converted  # resized, not a format conversion
    assert max(above.thumbnail.width, above.thumbnail.height) == 400


def test_display_jpeg_quality_is_85() -> None:
    result = _ok(jpeg(2400, 1600, "q"), "image/jpeg")
    assert result.display is not None
    display = _open(result.display.data)
    # libjpeg's quality 85 luminance table starts with 5 (quality 75: 8, quality 95: 2).
    assert display.quantization[0][0] == 5  # type: ignore[attr-defined]


def test_jpeg_decodes_through_draft_at_a_reduced_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []
    original = JpegImageFile.draft

    def spy(self: JpegImageFile, mode: str | None, size: tuple[int, int] | None) -> object:
        result = original(self, mode, size)
        calls.append(self.size)
        return result

    monkeypatch.setattr(JpegImageFile, "draft", spy)
    _ok(jpeg(1600, 1200, "draft-thumb"), "image/jpeg")
    _ok(jpeg(6000, 4000, "draft-display"), "image/jpeg")
    assert calls == [(800, 600), (3000, 2000)]  # 1/2 scale decodes, never the full frame


@pytest.mark.parametrize(
    ("name", "data", "mime"),
    [
        ("rgba png", encode(pattern(64, 48, "a").convert("RGBA"), "PNG"), "image/png"),
        ("16-bit png", encode(pattern(64, 48, "b").convert("I;16"), "PNG"), "image/png"),
        ("LA png", encode(pattern(64, 48, "c").convert("LA"), "PNG"), "image/png"),
        ("palette gif", encode(pattern(64, 48, "d").convert("P"), "GIF"), "image/gif"),
        ("cmyk jpeg", encode(pattern(64, 48, "e").convert("CMYK"), "JPEG"), "image/jpeg"),
        ("gray jpeg", encode(pattern(64, 48, "f").convert("L"), "JPEG"), "image/jpeg"),
        ("lossless webp", encode(pattern(64, 48, "g"), "WEBP", lossless=True), "image/webp"),
    ],
)
def test_every_pixel_mode_gives_an_rgb_jpeg_thumbnail(name: str, data: bytes, mime: str) -> None:
    thumb = _open(_ok(data, mime).thumbnail.data)
    assert thumb.mode == "RGB", name
    assert thumb.size == (64, 48)


@pytest.mark.parametrize(
    ("data", "limit"),
    [
        (png_declared(20_000, 20_000), LIMIT),  # Pillow refuses (> 2x its limit)
        (png_declared(10_240, 10_240), LIMIT),  # Pillow only warns: warnings are errors
        (jpeg(64, 64, "tiny"), 4095),  # our own check from the header
    ],
)
def test_too_many_pixels_is_judged_from_the_header(data: bytes, limit: int) -> None:
    mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    result = TOOL.process_photo(data, mime, max_pixels=limit)
    assert isinstance(result, MediaFailure)
    assert result.code is MediaErrorCode.TOO_MANY_PIXELS
    assert "pixels" in result.message


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (BY_NAME["jpeg_truncated"].data(), "image/jpeg"),
        (BY_NAME["png_corrupt"].data(), "image/png"),
        (b"\xff\xd8\xff" + b"\x00" * 64, "image/jpeg"),
        (b"GIF89a" + b"\x00" * 3, "image/gif"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (BY_NAME["png_alpha"].data()[:-30], "image/png"),  # IEND and the last IDAT bytes cut
    ],
)
def test_damaged_photos_are_corrupt(data: bytes, mime: str) -> None:
    result = TOOL.process_photo(data, mime, max_pixels=LIMIT)
    assert isinstance(result, MediaFailure)
    assert result.code is MediaErrorCode.CORRUPT


def test_exif_metadata_with_south_west_gps_and_no_offset() -> None:
    exif = _exif(
        taken="2023:12:31 23:59:58", gps=(-33.8688, -151.2093), make="SONY", model="ILCE-7M4"
    )
    result = _ok(jpeg(320, 240, "meta", exif=exif), "image/jpeg")
    assert result.capture.taken_at == "2023-12-31T23:59:58"
    assert result.capture.gps is not None
    assert result.capture.gps.lat == pytest.approx(-33.8688, abs=1e-4)
    assert result.capture.gps.lon == pytest.approx(-151.2093, abs=1e-4)
    assert result.capture.camera == "SONY ILCE-7M4"


def test_broken_exif_never_fails_a_good_photo() -> None:
    data = encode(pattern(200, 100, "badexif"), "JPEG", exif=b"Exif\x00\x00II*\x00\xff\xff\xff\xff")
    result = _ok(data, "image/jpeg")
    assert (result.width, result.height) == (200, 100)
    assert result.capture.gps is None
