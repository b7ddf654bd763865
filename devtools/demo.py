"""The demo: a generated sample batch through the deployed HTTP API with the CLI.

    python devtools/demo.py --api http://127.0.0.1:4566/_aws/execute-api/<apiId> --out out/demo

Writes the batch to ``<out>/batch`` (sharp, duplicate, dark, blurry, overexposed and rotated
photos, a HEIC, a PNG, a 2 s video, a corrupt file), runs ``media-triage run`` on it (live
progress, then the keep/discard table), and leaves ``<out>/results.json`` and
``<out>/contact-sheet.jpg``. Exit code: the CLI's (0 when the job completed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sample_batch import write_demo

from media_triage_cli.command import Run, RunOptions


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--api", required=True, help="base URL of the deployed HTTP API")
    parser.add_argument("--out", type=Path, default=Path("out/demo"))
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--model", help="analyzer model override")
    args = parser.parse_args()

    out: Path = args.out
    batch = out / "batch"
    paths = write_demo(batch)
    print(f"sample batch: {len(paths)} files in {batch}", flush=True)
    sheet = out / "contact-sheet.jpg"
    run = Run(
        RunOptions(
            paths=[str(batch)],
            api=args.api,
            contact_sheet=sheet,
            timeout=args.timeout,
            model=args.model,
        )
    )
    code = run.execute()
    if run.outcome.results is not None:
        (out / "results.json").write_text(json.dumps(run.outcome.results, indent=2) + "\n")
        print(f"results: {out / 'results.json'}")
    if code == 0 and not sheet.exists():
        print("demo: no contact sheet was written", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
