"""The serial baseline of ``make bench-e2e``: one process downloads every original from the
bucket, processes each file after the other with the same media code as MediaProcess (Pillow
photo tool, ffmpeg video tool: thumbnail, display copy, proxy), then triages them with
TriageRun's local analyzer on one worker. Each file's own processing time is kept: the tail
target of the benchmark is stated in the last file's."""

from __future__ import annotations

import hashlib
import io
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class MemoryStore:
    """An ObjectStore for the analyzer: the renditions the baseline made, in memory."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def get_bytes(self, key: str, *, byte_range: tuple[int, int] | None = None) -> bytes:
        data = self.objects[key]
        return data if byte_range is None else data[byte_range[0] : byte_range[1] + 1]

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = data

    def head(self, key: str) -> Any:
        return None

    def presign_get(
        self,
        key: str,
        expires_in: int,
        *,
        content_type: str | None = None,
        content_disposition: str | None = None,
    ) -> str:
        return key

    def list_keys(self, prefix: str) -> Iterator[str]:
        return iter(sorted(k for k in self.objects if k.startswith(prefix)))

    def delete_keys(self, keys: Sequence[str]) -> int:
        return sum(self.objects.pop(k, None) is not None for k in keys)


@dataclass
class SerialTimes:
    download: float = 0.0
    processing: float = 0.0
    triage: float = 0.0
    engine: str = ""
    verdicts: int = 0
    notes: list[str] = field(default_factory=list)
    per_file: dict[str, float] = field(default_factory=dict)  # filename -> processing s


def downloader(endpoint: str | None, bucket: str) -> Callable[[str, Path], bytes]:
    """Reads originals from the bucket (boto3 against the emulator), else from disk."""
    if endpoint:
        try:
            import boto3

            s3 = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",  # noqa: S106 - the emulator's dummy credentials
            )

            def from_s3(key: str, path: Path) -> bytes:
                return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

            return from_s3
        except Exception:  # noqa: S110 - no boto3 or no endpoint: read from disk
            pass
    return lambda key, path: path.read_bytes()


def serial_baseline(
    files: Sequence[tuple[str, str, str, Path]], download: Callable[[str, Path], bytes]
) -> SerialTimes:
    """(fileId, filename, key, path) one after the other, then triage."""
    try:
        return _serial_with_pipeline_code(files, download)
    except ImportError as exc:
        times = _serial_with_equivalents(files, download)
        times.notes.append(f"pipeline media code not importable ({exc}); Pillow/ffmpeg used")
        return times


def _serial_with_pipeline_code(  # noqa: PLR0915 - the baseline, its steps nested
    files: Sequence[tuple[str, str, str, Path]], download: Callable[[str, Path], bytes]
) -> SerialTimes:
    from media_process import detect
    from media_process.adapters.photo import PillowPhotoTool
    from media_process.adapters.video import FfmpegVideoTool, VideoOptions
    from media_triage_shared.deadline import Deadline
    from media_triage_shared.media import MediaFailure
    from media_triage_shared.models import MediaItem, MediaRef, MediaType
    from triage_run.local import LocalAnalyzer

    times = SerialTimes(engine="media_process adapters + triage_run LocalAnalyzer (1 worker)")
    photo_tool, video_tool = PillowPhotoTool(), FfmpegVideoTool(VideoOptions())
    store = MemoryStore()

    def ref(key: str, data: bytes, mime: str) -> MediaRef:
        store.put_bytes(key, data, mime)
        return MediaRef(key=key, mime_type=mime)

    def photo(fid: str, name: str, data: bytes, mime: str) -> MediaItem | None:
        res = photo_tool.process_photo(data, mime, max_pixels=100_000_000)
        if isinstance(res, MediaFailure):
            return None
        thumb = ref(f"derived/bench/{fid}/thumb.jpg", res.thumbnail.data, "image/jpeg")
        media = thumb
        if res.display is not None:
            media = ref(f"derived/bench/{fid}/display.jpg", res.display.data, "image/jpeg")
        return MediaItem(
            file_id=fid,
            filename=name,
            media_type=MediaType.PHOTO,
            media=media,
            thumbnail=thumb,
            width=res.width,
            height=res.height,
        )

    def video(fid: str, name: str, local: str, mime: str) -> MediaItem | None:
        probe = video_tool.probe_video(local, mime, deadline=Deadline.after(60))
        if isinstance(probe, MediaFailure):
            return None
        frame = video_tool.video_thumbnail(local, mime, probe, deadline=Deadline.after(60))
        proxy = video_tool.video_proxy(local, mime, probe, deadline=Deadline.after(120))
        thumb = None
        if not isinstance(frame, MediaFailure):
            thumb = ref(f"derived/bench/{fid}/thumb.jpg", frame.data, "image/jpeg")
        media = thumb
        if not isinstance(proxy, MediaFailure):
            media = ref(f"derived/bench/{fid}/proxy.mp4", proxy.data, "video/mp4")
        if media is None:
            return None
        return MediaItem(
            file_id=fid,
            filename=name,
            media_type=MediaType.VIDEO,
            media=media,
            thumbnail=thumb,
            width=probe.width,
            height=probe.height,
            duration_seconds=probe.duration_seconds,
        )

    items: list[MediaItem] = []
    seen: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="bench-serial-") as scratch:
        for fid, name, key, path in files:
            started = time.perf_counter()
            data = download(key, path)
            fetched = time.perf_counter()
            times.download += fetched - started
            kind = detect.sniff(data[:4096])
            fingerprint = hashlib.sha256(data).hexdigest()
            item = None
            if kind.mime_type is not None and fingerprint not in seen:
                seen.add(fingerprint)
                if kind.media_type is MediaType.PHOTO:
                    item = photo(fid, name, data, kind.mime_type)
                else:
                    local = Path(scratch) / f"{fid}{path.suffix}"
                    local.write_bytes(data)
                    item = video(fid, name, str(local), kind.mime_type)
            if item is not None:
                items.append(item)
            times.per_file[name] = time.perf_counter() - fetched
            times.processing += times.per_file[name]
    started = time.perf_counter()
    verdicts = LocalAnalyzer(store, workers=1).analyze(items, deadline=time.monotonic() + 600)
    times.triage = time.perf_counter() - started
    times.verdicts = len(verdicts)
    return times


def _serial_with_equivalents(
    files: Sequence[tuple[str, str, str, Path]], download: Callable[[str, Path], bytes]
) -> SerialTimes:
    """Pillow + ffmpeg doing what MediaProcess and the local analyzer do, for when their
    code cannot be imported."""
    import subprocess

    from PIL import Image, ImageFilter, ImageOps, ImageStat

    times = SerialTimes(engine="Pillow + ffmpeg equivalents")
    thumbs: list[bytes] = []
    with tempfile.TemporaryDirectory(prefix="bench-serial-") as scratch:
        for fid, name, key, path in files:
            started = time.perf_counter()
            data = download(key, path)
            fetched = time.perf_counter()
            times.download += fetched - started
            if path.suffix.lower() in {".mp4", ".mov", ".webm", ".mkv"}:
                local = Path(scratch) / f"{fid}{path.suffix}"
                local.write_bytes(data)
                thumb, proxy = Path(scratch) / f"{fid}.jpg", Path(scratch) / f"{fid}-p.mp4"
                base = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
                subprocess.run(
                    [
                        *base,
                        "-ss",
                        "1",
                        "-i",
                        str(local),
                        "-frames:v",
                        "1",
                        "-vf",
                        "scale=400:-2",
                        str(thumb),
                    ],
                    check=False,
                    timeout=60,
                )
                subprocess.run(
                    [
                        *base,
                        "-i",
                        str(local),
                        "-vf",
                        "scale=960:-2",
                        "-r",
                        "15",
                        "-c:v",
                        "libx264",
                        "-preset",
                        "veryfast",
                        "-b:v",
                        "320k",
                        "-c:a",
                        "aac",
                        "-b:a",
                        "64k",
                        str(proxy),
                    ],
                    check=False,
                    timeout=120,
                )
                if thumb.exists():
                    thumbs.append(thumb.read_bytes())
            else:
                try:
                    with Image.open(io.BytesIO(data)) as img:
                        im = ImageOps.exif_transpose(img).convert("RGB")
                    if max(im.size) > 2048:
                        im.copy().thumbnail((2048, 2048))
                    im.thumbnail((400, 400))
                    buf = io.BytesIO()
                    im.save(buf, "JPEG", quality=80)
                    thumbs.append(buf.getvalue())
                except OSError:
                    pass
            times.per_file[name] = time.perf_counter() - fetched
            times.processing += times.per_file[name]
    started = time.perf_counter()
    for data in thumbs:
        with Image.open(io.BytesIO(data)) as img:
            gray = img.convert("L")
            ImageStat.Stat(gray).mean  # noqa: B018 - exposure
            ImageStat.Stat(gray.filter(ImageFilter.FIND_EDGES)).var  # noqa: B018 - sharpness
    times.triage = time.perf_counter() - started
    times.verdicts = len(thumbs)
    return times
