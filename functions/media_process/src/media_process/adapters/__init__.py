"""Adapters of the MediaTool port: Pillow for photos, ffmpeg/ffprobe for videos."""
