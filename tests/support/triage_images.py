"""Generated test media for triage: photo-like scenes that are unambiguously sharp, dark,
blurry, overexposed, flat or near-duplicates, plus short videos (ffmpeg).

Everything is made by code from a seed (nothing binary is committed). ``thumbnail`` mimics
MediaProcess (400 px long edge JPEG), so tests can put "derived" objects where TriageRun
expects them.
"""

from __future__ import annotations

import io
import random
import shutil
import subprocess
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

THUMB_EDGE = 400
FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"


def jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def scene(seed: int, size: tuple[int, int] = (1600, 1200)) -> Image.Image:
    """A well exposed, sharp, photo-like scene: sky/ground gradient, objects with hard edges,
    thin lines and fine texture. Different seeds give visibly different scenes."""
    rnd = random.Random(seed)
    w, h = size
    sky = tuple(rnd.randint(90, 200) for _ in range(3))
    ground = tuple(rnd.randint(40, 140) for _ in range(3))
    horizon = rnd.randint(h // 3, 2 * h // 3)
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    for y in range(h):
        top, bottom, t = (sky, ground, y / h) if y < horizon else (ground, sky, 0.3 * y / h)
        draw.line(
            [(0, y), (w, y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    for _ in range(rnd.randint(14, 22)):
        x0, y0 = rnd.randint(0, w), rnd.randint(0, h)
        x1, y1 = x0 + rnd.randint(w // 20, w // 4), y0 + rnd.randint(h // 20, h // 4)
        color = tuple(rnd.randint(10, 245) for _ in range(3))
        if rnd.random() < 0.5:
            draw.ellipse([x0, y0, x1, y1], fill=color, outline=(20, 20, 20), width=3)
        else:
            draw.rectangle([x0, y0, x1, y1], fill=color, outline=(240, 240, 240), width=2)
    for _ in range(rnd.randint(25, 40)):
        pts = [(rnd.randint(0, w), rnd.randint(0, h)) for _ in range(2)]
        draw.line(pts, fill=tuple(rnd.randint(0, 255) for _ in range(3)), width=rnd.randint(2, 5))
    noise = Image.effect_noise(size, 24).convert("RGB")
    return Image.blend(img, noise, 0.12)


def dark(img: Image.Image) -> Image.Image:
    """Underexposed: almost everything in the bottom of the histogram (mean ~ 8/255)."""
    return ImageEnhance.Brightness(img).enhance(0.07)


def overexposed(img: Image.Image) -> Image.Image:
    """Blown out: most pixels clipped to white."""
    return img.point(lambda v: min(255, v * 3 + 90))


def blurry(img: Image.Image) -> Image.Image:
    """Out of focus: a Gaussian blur of ~1.2 % of the width (~5 px on a 400 px thumbnail)."""
    return img.filter(ImageFilter.GaussianBlur(img.width * 0.012))


def burst_twin(img: Image.Image) -> Image.Image:
    """The next frame of a burst: a 1 % shift and a re-encode, the same picture to a viewer."""
    w, h = img.size
    dx, dy = w // 100, h // 100
    return img.crop((dx, dy, w, h)).resize((w, h), Image.Resampling.BILINEAR)


def slightly_soft(img: Image.Image) -> Image.Image:
    """A burst frame with a touch of camera shake: a near-duplicate that is less sharp."""
    return burst_twin(img).filter(ImageFilter.GaussianBlur(img.width * 0.003))


def flat(
    color: tuple[int, int, int] = (120, 120, 125), size: tuple[int, int] = (800, 600)
) -> Image.Image:
    """An accidental shot of a wall or a lens cap: one colour with sensor noise."""
    noise = Image.effect_noise(size, 6).convert("RGB")
    return Image.blend(Image.new("RGB", size, color), noise, 0.05)


def thumbnail(data: bytes, edge: int = THUMB_EDGE) -> bytes:
    """What MediaProcess writes as ``thumb.jpg``: the long edge scaled to 400 px, JPEG q85."""
    with Image.open(io.BytesIO(data)) as img:
        img.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        return jpeg(img, quality=85)


def video(path: Path, kind: str = "good", seconds: float = 2.0, size: str = "320x240") -> Path:
    """A short H.264 MP4 made by ffmpeg: ``good`` (a moving test pattern), ``dark`` (nearly
    black with noise) or ``blurry`` (the test pattern heavily blurred)."""
    sources = {
        "good": f"testsrc2=size={size}:rate=10",
        "dark": f"color=c=0x060606:size={size}:rate=10",
        "blurry": f"testsrc2=size={size}:rate=10",
    }
    filters = {"good": "null", "dark": "noise=alls=4:allf=t", "blurry": "gblur=sigma=6"}
    subprocess.run(
        [
            FFMPEG,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            sources[kind],
            "-t",
            str(seconds),
            "-vf",
            f"{filters[kind]},format=yuv420p",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path
