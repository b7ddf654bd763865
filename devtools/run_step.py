"""Run one step of a make target quietly: one line with its duration, the full output in a log.

    python3 devtools/run_step.py [--log FILE] [--summary REGEX] [--live] [--verbose] \\
        TITLE -- COMMAND [ARGS...]

Prints ``  TITLE ...`` and completes the line with the duration and a summary (the lines of the
output matching ``--summary``, or their first group, joined). The command's output (stdout and
stderr, ANSI colours removed) goes to ``--log`` (default ``.local/logs/<title>.log``). On
failure it prints the exit code, the log's last lines and the log's path. ``--verbose``
(``VERBOSE=1`` in make) also shows the output in full; the log is written either way.
``--live`` runs the command on the terminal as is (the step a person watches: the CLI keeps
its terminal progress view) and only adds the title and duration lines. Exit code: the
command's. Stdlib only: it runs before the workspace is installed.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import TextIO

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TAIL_LINES = 30
TITLE_WIDTH = 16


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "step"


def summarise(lines: list[str], pattern: str | None) -> str:
    """The matches of ``pattern`` (its first group if it has one) in ``lines``, joined."""
    if not pattern:
        return ""
    regex = re.compile(pattern)
    found = []
    for line in lines:
        match = regex.search(line)
        if match:
            found.append((match.group(1) if regex.groups else match.group(0)).strip())
    return ", ".join(found)


def run_live(title: str, command: list[str], out: TextIO = sys.stdout) -> int:
    """Run ``command`` on the terminal as is (a person watches it), then its duration."""
    label = f"  {title:<{TITLE_WIDTH}}"
    out.write(f"  {title}\n")
    out.flush()
    started = time.monotonic()
    try:
        code = subprocess.call(command)
    except OSError as exc:
        out.write(f"    {exc}\n")
        code = 127
    took = duration(time.monotonic() - started)
    if code == 0:
        out.write(f"{label} {took:>9}\n")
    else:
        out.write(f"{label} FAILED after {took} (exit {code})\n")
    out.flush()
    return code


def run_step(
    title: str,
    command: list[str],
    log_path: Path,
    *,
    summary: str | None = None,
    verbose: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    """Run ``command``; its output to ``log_path`` (and to ``out`` when verbose)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    label = f"  {title:<{TITLE_WIDTH}}"
    if verbose:
        out.write(f"{label} (output below; log: {log_path})\n")
    else:
        out.write(f"{label} ... ")
    out.flush()
    started = time.monotonic()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    lines: list[str] = []
    with log_path.open("w", encoding="utf-8") as log:
        log.write(f"$ {shlex.join(command)}\n")
        log.flush()
        try:
            proc = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
            )
        except OSError as exc:
            log.write(f"{exc}\n")
            tail.append(str(exc))
            code = 127
        else:
            with proc:
                assert proc.stdout is not None
                for raw in proc.stdout:
                    line = ANSI_RE.sub("", raw)
                    log.write(line)
                    tail.append(line.rstrip("\n"))
                    if summary:
                        lines.append(line.rstrip("\n"))
                    if verbose:
                        out.write(raw)
                        out.flush()
            code = proc.returncode
    took = duration(time.monotonic() - started)
    prefix = f"{label} " if verbose else ""
    if code == 0:
        note = summarise(lines, summary)
        out.write(f"{prefix}{took:>9}{'  ' + note if note else ''}\n")
        out.flush()
        return 0
    out.write(f"{prefix}FAILED after {took} (exit {code})\n")
    if not verbose:
        out.write(f"    last {len(tail)} lines of {log_path}:\n")
        out.writelines(f"    | {line}\n" for line in tail)
    out.write(f"    full log: {log_path}\n")
    out.flush()
    return code


def main(argv: list[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if "--" not in args_in:
        print("run_step.py: usage: [options] TITLE -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    split = args_in.index("--")
    command = args_in[split + 1 :]
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("title")
    parser.add_argument("--log", type=Path, help="log file (default .local/logs/<title>.log)")
    parser.add_argument("--summary", help="regex: matching output lines summarise the step")
    parser.add_argument(
        "--live", action="store_true", help="run on the terminal as is (no log, no capture)"
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        default=os.environ.get("VERBOSE", "") not in {"", "0"},
        help="show the full output (default: VERBOSE set)",
    )
    args = parser.parse_args(args_in[:split])
    if not command:
        parser.error("no command after --")
    if args.live:
        return run_live(args.title, command)
    log = args.log or Path(".local/logs") / f"{slug(args.title)}.log"
    return run_step(args.title, command, log, summary=args.summary, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
