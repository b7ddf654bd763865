"""LocalAnalyzer, the Analyzer port offline: previews through the ObjectStore, video frames
through ffmpeg, judged in a thread pool within the deadline."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from media_triage_shared.job_cost import TokenTally
from media_triage_shared.logging import get_logger
from media_triage_shared.models import MediaItem, MediaRef, Verdict
from media_triage_shared.ports import ObjectStore
from triage_run.local.measures import Measures, PreviewUnreadable, decode, measure
from triage_run.local.verdicts import Judgement, group_duplicates, judge_frames, to_verdict

VIDEO_FRAMES = 3
FRAME_TIMEOUT_SECONDS = 20.0

log = get_logger()


class LocalAnalyzer:
    """Analyzer port: Pillow checks on previews read through the ObjectStore."""

    name = "local"
    model: str | None = None
    url_ttl_seconds = 0  # reads the objects itself: no presigned URLs needed

    def __init__(
        self, store: ObjectStore, *, ffmpeg: str | None = "ffmpeg", workers: int | None = None
    ) -> None:
        self._store = store
        self._ffmpeg = shutil.which(ffmpeg) if ffmpeg else None
        self._workers = workers or min(8, (os.cpu_count() or 2) * 2)

    # ------------------------------------------------------------------ per item

    def _read(self, ref: MediaRef) -> bytes:
        try:
            return self._store.get_bytes(ref.key)
        except Exception as exc:  # missing object, S3 error: the file is not evaluated
            raise PreviewUnreadable(f"cannot read preview: {type(exc).__name__}") from exc

    def _image_measures(self, ref: MediaRef) -> Measures:
        with decode(self._read(ref)) as img:
            return measure(img)

    def _video_frames(self, ref: MediaRef, duration: float | None) -> list[Measures]:
        if self._ffmpeg is None:
            raise PreviewUnreadable("ffmpeg is not available")
        data = self._read(ref)
        with tempfile.TemporaryDirectory(prefix="triage-") as tmp:
            path = Path(tmp) / "proxy.mp4"
            path.write_bytes(data)
            if duration and duration > 0:
                stamps = [duration * f for f in (0.15, 0.5, 0.85)][:VIDEO_FRAMES]
            else:
                stamps = [0.0, 1.0, 2.0][:VIDEO_FRAMES]
            frames = []
            for at in stamps:
                out = subprocess.run(
                    [
                        self._ffmpeg,
                        "-hide_banner",
                        "-loglevel",
                        "error",
                        "-ss",
                        f"{at:.3f}",
                        "-i",
                        str(path),
                        "-frames:v",
                        "1",
                        "-f",
                        "image2pipe",
                        "-c:v",
                        "bmp",
                        "-",
                    ],
                    capture_output=True,
                    timeout=FRAME_TIMEOUT_SECONDS,
                    check=False,
                )
                if out.returncode == 0 and out.stdout:
                    with decode(out.stdout) as img:
                        frames.append(measure(img))
        if not frames:
            raise PreviewUnreadable("no frame could be decoded from the video")
        return frames

    def judge(self, item: MediaItem) -> Judgement:
        if item.media.mime_type.startswith("video/"):
            try:
                frames = self._video_frames(item.media, item.duration_seconds)
            except (PreviewUnreadable, OSError, subprocess.SubprocessError) as exc:
                if item.thumbnail is None:
                    raise PreviewUnreadable(str(exc)) from exc
                frames = [self._image_measures(item.thumbnail)]
            return judge_frames(item, frames, video=True)
        ref = item.thumbnail or item.media  # the thumbnail is enough, and cheapest
        try:
            measures = self._image_measures(ref)
        except PreviewUnreadable:
            if ref is item.media:
                raise
            measures = self._image_measures(item.media)
        return judge_frames(item, [measures], video=item.media_type.value == "video")

    # ------------------------------------------------------------------ the port

    def with_model(self, model: str) -> LocalAnalyzer:
        return self  # no model to choose

    def analyze(
        self, items: Sequence[MediaItem], *, deadline: float, tokens: TokenTally | None = None
    ) -> list[Verdict]:  # no model, no tokens
        judged: dict[str, Judgement] = {}
        pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="local-analyzer")
        try:
            pending: dict[Future[Judgement], MediaItem] = {
                pool.submit(self.judge, item): item for item in items
            }
            while pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    log.warning("triage.local_deadline", unjudged=len(pending))
                    break
                done, _ = wait(pending, timeout=remaining, return_when=FIRST_COMPLETED)
                for fut in done:
                    item = pending.pop(fut)
                    try:
                        judged[item.file_id] = fut.result()
                    except PreviewUnreadable as exc:
                        log.warning(
                            "triage.preview_unreadable", file_id=item.file_id, error=str(exc)
                        )
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        ordered = [judged[i.file_id] for i in items if i.file_id in judged]
        group_duplicates(ordered)
        return [to_verdict(j) for j in ordered]
