"""Generated test media: the demo batch and the 36-file session of the e2e tests and the
benchmark. Everything is made by code (Pillow, pillow-heif, /usr/bin/ffmpeg), deterministic,
and small.

    python devtools/sample_batch.py out/demo/batch          # the demo batch
    python devtools/sample_batch.py out/mixed --mixed 36     # 36 files, photos + short videos
    python devtools/sample_batch.py out/roll --camera-roll 36 # 12 MP JPEGs + 1080p clips, cached

The demo batch: a sharp photo, the same bytes again (duplicate), dark, blurry and overexposed
photos, a rotated photo (EXIF orientation 6), a small HEIC, a PNG, a 2 s video and a corrupt
file named like a JPEG.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter

FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"

# name -> what the pipeline should make of it (the e2e test reads this)
DEMO_EXPECT = {
    "beach sunset.jpg": "valid",
    "beach sunset (copy).jpg": "duplicate",
    "night shot.jpg": "valid",
    "shaky hands.jpg": "valid",
    "snow glare.jpg": "valid",
    "portrait rotated.jpg": "valid",
    "garden.heic": "valid",
    "screenshot.png": "valid",
    "waves.mp4": "valid",
    "broken.jpg": "invalid",
}


def landscape(seed: int, size: tuple[int, int] = (1600, 1200)) -> Image.Image:
    """A photo-like scene with real detail: sky gradient, sun, hills, trees and film grain."""
    rng = random.Random(seed)
    w, h = size
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    top = (rng.randint(40, 90), rng.randint(90, 150), rng.randint(180, 240))
    bottom = (rng.randint(200, 250), rng.randint(150, 200), rng.randint(120, 180))
    for y in range(h):
        t = y / h
        draw.line(
            [(0, y), (w, y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    sx, sy, r = rng.randint(w // 5, 4 * w // 5), rng.randint(h // 8, h // 3), rng.randint(40, 90)
    draw.ellipse([sx - r, sy - r, sx + r, sy + r], fill=(255, 230, 150))
    for layer in range(3):
        base = h // 2 + layer * h // 8
        colour = (30 + 25 * layer + rng.randint(0, 20), 90 + 30 * layer, 40 + 10 * layer)
        points = [(0, h)]
        for x in range(0, w + 80, 80):
            points.append((x, base + rng.randint(-60, 60)))
        points.append((w, h))
        draw.polygon(points, fill=colour)
    for _ in range(60):
        x, y = rng.randint(0, w), rng.randint(h // 2, h)
        th = rng.randint(30, 120)
        draw.polygon(
            [(x, y - th), (x - th // 4, y), (x + th // 4, y)], fill=(20, rng.randint(60, 110), 30)
        )
        draw.line([(x, y), (x, y + th // 5)], fill=(70, 45, 20), width=3)
    for _ in range(400):  # fine detail a sharpness check can see
        x, y = rng.randint(0, w - 4), rng.randint(0, h - 4)
        shade = rng.randint(0, 255)
        draw.rectangle(
            [x, y, x + rng.randint(1, 3), y + rng.randint(1, 3)], fill=(shade, shade, shade)
        )
    noise = Image.effect_noise(size, 18).convert("RGB")
    return Image.blend(img, noise, 0.08)


def jpeg_bytes(img: Image.Image, *, exif: Image.Exif | None = None, quality: int = 88) -> bytes:
    buf = io.BytesIO()
    if exif is not None:
        img.save(buf, "JPEG", quality=quality, exif=exif)
    else:
        img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def heic_bytes(img: Image.Image) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    img.resize((320, 240)).save(buf, "HEIF", quality=60)
    return buf.getvalue()


def video(path: Path, *, seconds: float = 2.0, size: str = "320x240", seed: int = 0) -> Path:
    """A short H.264 clip (test pattern, a moving box, a tone) made by ffmpeg."""
    pattern = ("testsrc2", "smptebars", "testsrc", "rgbtestsrc")[seed % 4]
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
            f"{pattern}=size={size}:rate=15:duration={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={300 + 40 * seed}:duration={seconds}",
            "-shortest",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "48k",
            "-movflags",
            "+faststart",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path


def rotated(img: Image.Image) -> tuple[Image.Image, Image.Exif]:
    """Stored landscape with EXIF orientation 6: viewers show it rotated 90 degrees clockwise."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return img.resize((1200, 900)), exif


def write_demo(out: Path) -> list[Path]:
    """The demo batch into ``out`` (created); returns the files in a stable order."""
    out.mkdir(parents=True, exist_ok=True)
    sharp = landscape(1)
    sharp_bytes = jpeg_bytes(sharp)
    rot, exif = rotated(landscape(2))
    files: dict[str, bytes] = {
        "beach sunset.jpg": sharp_bytes,
        "beach sunset (copy).jpg": sharp_bytes,
        "night shot.jpg": jpeg_bytes(ImageEnhance.Brightness(landscape(3)).enhance(0.08)),
        "shaky hands.jpg": jpeg_bytes(landscape(4).filter(ImageFilter.GaussianBlur(14))),
        "snow glare.jpg": jpeg_bytes(
            ImageEnhance.Brightness(ImageEnhance.Contrast(landscape(5)).enhance(0.5)).enhance(2.3)
        ),
        "portrait rotated.jpg": jpeg_bytes(rot, exif=exif),
        "garden.heic": heic_bytes(landscape(6, (640, 480))),
        "broken.jpg": sharp_bytes[:600]
        + bytes(random.Random(7).randrange(256) for _ in range(3000)),
    }
    png = io.BytesIO()
    landscape(8, (800, 600)).save(png, "PNG")
    files["screenshot.png"] = png.getvalue()
    paths = []
    for name, data in files.items():
        (out / name).write_bytes(data)
        paths.append(out / name)
    paths.append(video(out / "waves.mp4", seconds=2.0))
    return paths


def write_mixed(
    out: Path,
    count: int = 36,
    videos: int = 4,
    *,
    seed: int = 100,
    photo_size: tuple[int, int] = (1600, 1200),
    video_size: str = "320x240",
    video_seconds: float = 2.0,
) -> list[Path]:
    """``count`` files: ``videos`` short clips, the rest distinct photos (a few dark or
    blurry, so triage has something to discard)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count - videos):
        img = landscape(seed + i, photo_size)
        if i % 7 == 3:
            img = ImageEnhance.Brightness(img).enhance(0.1)
        elif i % 7 == 5:
            img = img.filter(ImageFilter.GaussianBlur(10))
        path = out / f"IMG_{i + 1:04d}.jpg"
        path.write_bytes(jpeg_bytes(img))
        paths.append(path)
    for j in range(videos):
        clip = out / f"VID_{j + 1:04d}.mp4"
        paths.append(video(clip, seconds=video_seconds, size=video_size, seed=j))
    return paths


# ---------------------------------------------------------------------------- camera roll

CAMERA_PHOTO = (4000, 3000)  # 12 MP
CAMERA_CLIP = "1920x1080"
_SCENES = 8  # distinct scenes; every photo gets its own crop offset, grain and exposure


def sensor_noise(size: tuple[int, int], sigma: float = 9.0) -> Image.Image:
    """Per-channel grain centred on 128 (added with offset -128): a sensor's noise, which is
    what makes a real 12 MP JPEG weigh 3-5 MB."""
    return Image.merge("RGB", [Image.effect_noise(size, sigma) for _ in range(3)])


def camera_exif(i: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Bench"  # Make
    exif[0x0110] = "Roll 12"  # Model
    exif[0x0132] = f"2026:07:{1 + i // 100:02d} 10:{(i // 60) % 60:02d}:{i % 60:02d}"
    return exif


def camera_photo(scene: Image.Image, grain: Image.Image, i: int) -> bytes:
    """One 12 MP photo: the scene with this photo's grain (the shared grain rolled by a
    per-photo offset), a few dark or blurry ones so triage has something to discard."""
    rng = random.Random(i)
    img = scene
    if i % 9 == 4:
        img = ImageEnhance.Brightness(img).enhance(0.12)
    elif i % 9 == 7:
        img = img.filter(ImageFilter.BoxBlur(8))
    shifted = ImageChops.offset(grain, rng.randrange(scene.width), rng.randrange(scene.height))
    img = ImageChops.add(img, shifted, scale=1.0, offset=-128)
    return jpeg_bytes(img, exif=camera_exif(i), quality=90)


def camera_clip(path: Path, *, seconds: float, size: str, seed: int) -> Path:
    """A phone-like H.264 clip: moving test pattern with temporal grain, ~8 Mbit/s, AAC."""
    pattern = ("testsrc2", "smptehdbars", "testsrc", "mandelbrot")[seed % 4]
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
            f"{pattern}=size={size}:rate=30:duration={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={300 + 40 * seed}:duration={seconds}",
            "-shortest",
            "-vf",
            "noise=alls=14:allf=t",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-b:v",
            "8M",
            "-maxrate",
            "8M",
            "-bufsize",
            "16M",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-movflags",
            "+faststart",
            str(path),
        ],
        check=True,
        timeout=600,
    )
    return path


def write_camera_roll(
    out: Path,
    count: int,
    clips: int = 0,
    *,
    photo_size: tuple[int, int] = CAMERA_PHOTO,
    clip_size: str = CAMERA_CLIP,
    clip_seconds: float = 8.0,
    seed: int = 500,
) -> list[Path]:
    """``count`` files named like a phone's camera roll (``IMG_0001.jpg``...), ``clips`` of
    them 1080p H.264 clips (``IMG_00NN.mp4``) spread through the roll. Cached: a manifest of
    the parameters and file sizes in ``out`` makes a rerun return the files without
    regenerating them."""
    params = {
        "count": count,
        "clips": clips,
        "photo": list(photo_size),
        "clip": clip_size,
        "seconds": clip_seconds,
        "seed": seed,
        "version": 1,
    }
    manifest = out / "manifest.json"
    if manifest.exists():
        known = json.loads(manifest.read_text())
        paths = [out / name for name in known.get("files", {})]
        if known.get("params") == params and all(
            p.is_file() and p.stat().st_size == known["files"][p.name] for p in paths
        ):
            return paths
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.is_file():
            old.unlink()
    clip_at = {round((k + 0.5) * count / clips) for k in range(clips)} if clips else set()
    scenes: dict[int, Image.Image] = {}
    grain = sensor_noise(photo_size)
    paths = []
    for i in range(count):
        stem = f"IMG_{i + 1:04d}"
        if i in clip_at:
            paths.append(
                camera_clip(out / f"{stem}.mp4", seconds=clip_seconds, size=clip_size, seed=i)
            )
            continue
        k = i % _SCENES
        if k not in scenes:
            scenes[k] = landscape(seed + k, photo_size)
        path = out / f"{stem}.jpg"
        path.write_bytes(camera_photo(scenes[k], grain, seed + i))
        paths.append(path)
    files = {p.name: p.stat().st_size for p in paths}
    manifest.write_text(json.dumps({"params": params, "files": files}, indent=1))
    return paths


def batch_digest(paths: list[Path]) -> str:
    """Names and sizes of a batch, for labelling cached results."""
    text = "\n".join(f"{p.name}:{p.stat().st_size}" for p in paths)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("--mixed", type=int, metavar="N", help="N photos+videos instead")
    parser.add_argument(
        "--camera-roll", type=int, metavar="N", help="N 12 MP photos + 1080p clips instead"
    )
    parser.add_argument("--videos", type=int, default=4)
    args = parser.parse_args()
    if args.camera_roll:
        paths = write_camera_roll(args.out, args.camera_roll, args.videos)
    elif args.mixed:
        paths = write_mixed(args.out, args.mixed, args.videos)
    else:
        paths = write_demo(args.out)
    for path in paths:
        print(f"{path.stat().st_size:>9}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
