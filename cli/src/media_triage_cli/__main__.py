"""``media-triage``: the command line of the media-triage HTTP API.

media-triage run PATH... --api URL [--json] [--contact-sheet out.jpg] [--concurrency N]
                 [--model M] [--timeout S] [--resume FILE] [--max-upload-rate RATE] [--quiet]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from media_triage_cli.command import EXIT_USAGE, Run, RunOptions
from media_triage_cli.ratelimit import BadRate, parse_rate


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _rate(text: str) -> float:
    try:
        return parse_rate(text)
    except BadRate as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="media-triage",
        description="Upload photos and videos to a media-triage deployment and get keep/discard "
        "verdicts, with live per-file progress.",
    )
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="triage files and folders",
        description="Upload PATHs (files, or folders searched recursively; hidden files are "
        "skipped) through the HTTP API like the web page, show per-file progress, then the "
        "keep/discard table. Exit 0 when the job completes, 1 when it fails, 130 on Ctrl-C "
        "(which cancels the job).",
    )
    run.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    run.add_argument("--api", required=True, help="base URL of the HTTP API")
    run.add_argument("--json", action="store_true", help="print the final results JSON only")
    run.add_argument(
        "--contact-sheet", type=Path, metavar="OUT.jpg", help="write all thumbnails to one JPEG"
    )
    run.add_argument(
        "--concurrency", type=_positive_int, default=4, metavar="N", help="parallel uploads (4)"
    )
    run.add_argument("--model", help="analyzer model for this job (Gemini model name)")
    run.add_argument(
        "--timeout",
        type=_positive_float,
        default=900.0,
        metavar="S",
        help="give up waiting for the verdicts after S seconds (900)",
    )
    run.add_argument(
        "--resume",
        type=Path,
        metavar="FILE",
        help="journal the run to FILE; if it holds an interrupted run of the same files, "
        "continue that job (uploaded files and multipart parts are not sent again)",
    )
    run.add_argument(
        "--max-upload-rate",
        type=_rate,
        metavar="RATE",
        help="limit the uploads to RATE per second in all (shared by the parallel uploads), "
        "e.g. 20Mbit, 500kbit, 2.5MB; default: no limit",
    )
    run.add_argument("--quiet", "-q", action="store_true", help="no progress view")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command != "run":  # pragma: no cover - argparse enforces the choice
        return EXIT_USAGE
    opts = RunOptions(
        paths=list(args.paths),
        api=args.api,
        json=args.json,
        contact_sheet=args.contact_sheet,
        concurrency=args.concurrency,
        model=args.model,
        timeout=args.timeout,
        quiet=args.quiet,
        resume=args.resume,
        max_upload_rate=args.max_upload_rate,
    )
    return Run(opts).execute()


if __name__ == "__main__":
    sys.exit(main())
