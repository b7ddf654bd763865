"""One JPEG of every file's thumbnail: a green border for keep, red for discard, grey for files
that were not triaged (invalid, duplicate, never uploaded), with the filename and the verdict
under each tile."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

KEEP = (34, 177, 76)
DISCARD = (220, 40, 40)
OTHER = (128, 128, 128)
BACKGROUND = (24, 24, 24)
TEXT = (235, 235, 235)
THUMB = 200
BORDER = 8
LABEL = 40
GAP = 12
TITLE = 36
MAX_COLUMNS = 6

Font = ImageFont.ImageFont | ImageFont.FreeTypeFont


def _font(size: int) -> Font:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


def tiles(results: Mapping[str, Any]) -> list[tuple[str, str, str, tuple[int, int, int]]]:
    """(fileId, filename, caption, border colour) per file, keep first, then discard, then
    the rest, in the order of the results."""
    verdicts = results.get("verdicts") or {}
    by_id: dict[str, tuple[str, str, tuple[int, int, int]]] = {}
    for kind, colour in (("keep", KEEP), ("discard", DISCARD)):
        for v in verdicts.get(kind, []):
            score = f" {v['score']}" if v.get("score") is not None else ""
            issues = ", ".join(str(i) for i in v.get("issues") or [])
            by_id[str(v["fileId"])] = (kind, f"{kind.upper()}{score} {issues}".strip(), colour)
    names = {str(f.get("fileId")): str(f.get("filename")) for f in results.get("files", [])}
    ranked: list[tuple[int, tuple[str, str, str, tuple[int, int, int]]]] = []
    for f in results.get("files", []):
        fid = str(f.get("fileId"))
        if fid in by_id:
            kind, caption, colour = by_id[fid]
        else:
            kind, colour = "other", OTHER
            error = f.get("error") or {}
            caption = str(f.get("status"))
            if error:
                caption += f" ({error.get('code')})"
            dup = f.get("duplicateOf")
            if dup:
                caption = f"duplicate of {names.get(str(dup), dup)}"
        ranked.append(
            ({"keep": 0, "discard": 1}.get(kind, 2), (fid, str(f.get("filename")), caption, colour))
        )
    out = [entry for _, entry in sorted(ranked, key=lambda r: r[0])]
    return out


def build(results: Mapping[str, Any], thumbnails: Mapping[str, bytes]) -> Image.Image:
    """The contact sheet for ``results``; ``thumbnails`` maps fileId to JPEG/PNG bytes."""
    entries = tiles(results)
    cols = max(1, min(MAX_COLUMNS, len(entries)))
    rows = max(1, math.ceil(len(entries) / cols))
    tile_w, tile_h = THUMB + 2 * BORDER, THUMB + 2 * BORDER + LABEL
    width = GAP + cols * (tile_w + GAP)
    height = TITLE + GAP + rows * (tile_h + GAP)
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    title_font, font, small = _font(18), _font(13), _font(11)
    verdicts = results.get("verdicts") or {}
    title = (
        f"media-triage {str(results.get('jobId', ''))[:12]}: "
        f"{len(verdicts.get('keep', []))} keep, {len(verdicts.get('discard', []))} discard, "
        f"{len(entries)} files"
    )
    draw.text((GAP, 9), _fit(draw, title, title_font, width - 2 * GAP), fill=TEXT, font=title_font)
    for i, (fid, filename, caption, colour) in enumerate(entries):
        x = GAP + (i % cols) * (tile_w + GAP)
        y = TITLE + GAP + (i // cols) * (tile_h + GAP)
        draw.rectangle([x, y, x + tile_w - 1, y + THUMB + 2 * BORDER - 1], fill=colour)
        inner = (x + BORDER, y + BORDER)
        draw.rectangle([*inner, inner[0] + THUMB - 1, inner[1] + THUMB - 1], fill=(48, 48, 48))
        thumb = _open(thumbnails.get(fid))
        if thumb is not None:
            thumb.thumbnail((THUMB, THUMB))
            off = (inner[0] + (THUMB - thumb.width) // 2, inner[1] + (THUMB - thumb.height) // 2)
            sheet.paste(thumb, off)
        else:
            text = "no preview"
            tw = draw.textlength(text, font=font)
            draw.text(
                (inner[0] + (THUMB - tw) / 2, inner[1] + THUMB / 2 - 8), text, fill=TEXT, font=font
            )
        label_y = y + THUMB + 2 * BORDER + 3
        draw.text((x, label_y), _fit(draw, filename, font, tile_w), fill=TEXT, font=font)
        draw.text((x, label_y + 18), _fit(draw, caption, small, tile_w), fill=colour, font=small)
    return sheet


def _open(data: bytes | None) -> Image.Image | None:
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as img:
            return ImageOps.exif_transpose(img).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def write(path: Path, results: Mapping[str, Any], thumbnails: Mapping[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    build(results, thumbnails).save(path, "JPEG", quality=88)
    return path
