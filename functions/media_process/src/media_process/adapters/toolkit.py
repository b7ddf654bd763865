"""The ``MediaTool`` port as one object: photos through Pillow, videos through ffmpeg."""

from __future__ import annotations

from media_process.adapters.photo import PillowPhotoTool
from media_process.adapters.video import FfmpegVideoTool
from media_triage_shared.deadline import Deadline
from media_triage_shared.media import MediaFailure, PhotoResult, Rendition, VideoProbe


class MediaToolkit:
    def __init__(self, photo: PillowPhotoTool, video: FfmpegVideoTool) -> None:
        self.photo = photo
        self.video = video

    def process_photo(
        self, data: bytes, mime_type: str, *, max_pixels: int
    ) -> PhotoResult | MediaFailure:
        return self.photo.process_photo(data, mime_type, max_pixels=max_pixels)

    def probe_video(
        self, source_url: str, mime_type: str, *, deadline: Deadline
    ) -> VideoProbe | MediaFailure:
        return self.video.probe_video(source_url, mime_type, deadline=deadline)

    def video_thumbnail(
        self, source_url: str, mime_type: str, probe: VideoProbe, *, deadline: Deadline
    ) -> Rendition | MediaFailure:
        return self.video.video_thumbnail(source_url, mime_type, probe, deadline=deadline)

    def video_proxy(
        self, source_url: str, mime_type: str, probe: VideoProbe, *, deadline: Deadline
    ) -> Rendition | MediaFailure:
        return self.video.video_proxy(source_url, mime_type, probe, deadline=deadline)
