"""Helpers for the CLI unit tests: sample files and an in-process run against the fake API."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from media_triage_cli.api import ApiClient, InitResponse
from media_triage_cli.command import Outcome, Run, RunOptions
from media_triage_cli.progress import View
from support.cli.fake_api import State


def jpeg(path: Path, colour: tuple[int, int, int] = (40, 120, 200), size: int = 64) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "JPEG")
    path.write_bytes(buf.getvalue())
    return path


def blob(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes((i * 7 + 3) % 251 for i in range(size)))
    return path


@dataclass
class Result:
    code: int
    out: str
    err: str
    outcome: Outcome


def run(
    state: State,
    paths: list[Path],
    *,
    view: View | None = None,
    on_init: Callable[[InitResponse], InitResponse] | None = None,
    **opts: Any,
) -> Result:
    out, err = io.StringIO(), io.StringIO()
    options = RunOptions(
        paths=[str(p) for p in paths],
        api=state.base,
        poll_interval=opts.pop("poll_interval", 0.02),
        backoff=opts.pop("backoff", 0.001),
        timeout=opts.pop("timeout", 20.0),
        **opts,
    )
    client = ApiClient(state.base, backoff=0.001)
    command = Run(options, client=client, stdout=out, stderr=err, view=view, on_init=on_init)
    code = command.execute()
    return Result(code, out.getvalue(), err.getvalue(), command.outcome)
