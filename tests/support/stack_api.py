"""Helpers shared by the API integration tests: generated photos, file specs, results calls."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote_plus

from PIL import Image, ImageDraw

from support.stack import Response, Stack


def jpeg(seed: int, size: tuple[int, int] = (640, 480)) -> bytes:
    """A distinct, sharp, well-exposed photo per seed."""
    img = Image.new("RGB", size, ((seed * 53) % 200 + 30, (seed * 97) % 200 + 30, 140))
    draw = ImageDraw.Draw(img)
    for i in range(0, size[0], 24):
        draw.line([(i, 0), (size[0] - i, size[1])], fill=(255, 255, 255), width=2)
    draw.text((10 + seed % 50, 10), f"#{seed}", fill=(0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def png(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    """A small PNG: browsers show it as it is, so MediaProcess makes no display.jpg."""
    img = Image.new("RGB", size, ((seed * 31) % 200 + 30, 120, (seed * 71) % 200 + 30))
    ImageDraw.Draw(img).ellipse([20, 20, size[0] - 20, size[1] - 20], outline=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def fspec(name: str, data: bytes, content_type: str = "image/jpeg") -> dict[str, Any]:
    return {"filename": name, "contentType": content_type, "size": len(data)}


def results(stack: Stack, init: dict[str, Any], **headers: str) -> Response:
    return stack.api(
        "GET", f"/api/triage/{init['jobId']}/results", token=init["sessionToken"], headers=headers
    )


def s3_event(bucket: str, key: str, size: int) -> dict[str, Any]:
    """An ObjectCreated record as S3 sends it: the key URL-encoded, a space as '+'."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Post",
                "s3": {
                    "bucket": {"name": bucket},
                    "object": {"key": quote_plus(key, safe="/"), "size": size},
                },
            }
        ]
    }
