"""Drive the deployed HTTP API exactly as the web page would, with a generated sample batch.

    python devtools/demo.py --api http://127.0.0.1:4566/_aws/execute-api/<apiId> --out out/demo

init on the first file -> presigned uploads -> poll results (per-file progress) -> verdicts.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import requests
from PIL import Image, ImageDraw, ImageFilter


def _jpeg(img: Image.Image, **save: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, **save)
    return buf.getvalue()


def sample_batch() -> list[tuple[str, str, bytes]]:
    """(filename, content type, bytes): a sharp, a dark, a blurry photo, a duplicate, a PNG,
    and a corrupt file named like a JPEG."""
    sharp = Image.new("RGB", (1600, 1200), (90, 140, 200))
    draw = ImageDraw.Draw(sharp)
    for i in range(0, 1600, 40):
        draw.line([(i, 0), (1600 - i, 1200)], fill=(255, 255, 255), width=3)
        draw.rectangle([i, (i * 3) % 1100, i + 25, (i * 3) % 1100 + 60], fill=(200, 60, 40))
    dark = sharp.point(lambda v: v // 12)
    blurry = sharp.filter(ImageFilter.GaussianBlur(18))
    png = io.BytesIO()
    sharp.resize((640, 480)).save(png, "PNG")
    sharp_bytes = _jpeg(sharp)
    return [
        ("beach sunset.jpg", "image/jpeg", sharp_bytes),
        ("night shot.jpg", "image/jpeg", _jpeg(dark)),
        ("shaky hands.jpg", "image/jpeg", _jpeg(blurry)),
        ("beach sunset (copy).jpg", "image/jpeg", sharp_bytes),
        ("screenshot.png", "image/png", png.getvalue()),
        ("broken.jpg", "image/jpeg", b"this is not really a jpeg\n" * 10),
    ]


def run(api: str, out: Path, timeout: float) -> int:
    http = requests.Session()
    batch = sample_batch()
    specs = [{"filename": n, "contentType": ct, "size": len(b)} for n, ct, b in batch]
    resp = http.post(
        f"{api}/api/triage/init", json={"expectedFileCount": len(batch), "files": specs}, timeout=30
    )
    resp.raise_for_status()
    init = resp.json()
    job_id, token = init["jobId"], init["sessionToken"]
    auth = {"Authorization": f"Bearer {token}"}
    print(f"job {job_id}: uploading {len(batch)} files")
    for target, (_, _, data) in zip(init["uploads"], batch, strict=True):
        up = http.post(
            target["url"], data=target["fields"], files={"file": ("f", data)}, timeout=60
        )
        up.raise_for_status()
    started, seen, body = time.monotonic(), "", {}
    while time.monotonic() - started < timeout:
        body = http.get(f"{api}/api/triage/{job_id}/results", headers=auth, timeout=30).json()
        line = (
            f"  {body['status']:<10} {body['processedCount']}/{body['expectedFileCount']} processed"
        )
        if line != seen:
            print(line)
            for f in body["files"]:
                code = f" ({f['error']['code']})" if f.get("error") else ""
                print(f"    {f['filename']:<28} {f['status']}{code}")
            seen = line
        if body["status"] in {"complete", "failed", "cancelled"}:
            break
        time.sleep(1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(body, indent=2))
    print(f"job {job_id} finished: {body.get('status')} -> {out / 'results.json'}")
    return 0 if body.get("status") == "complete" else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True)
    parser.add_argument("--out", type=Path, default=Path("out/demo"))
    parser.add_argument("--timeout", type=float, default=180)
    args = parser.parse_args()
    return run(args.api.rstrip("/"), args.out, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
