"""devtools/run_step.py: make demo's step runner (one line per step, full output in a log)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "devtools"))

from run_step import duration, run_step, summarise  # noqa: E402 - devtools/ is not a package

NOISY = (
    "import sys\n"
    "for i in range(100): print(f'line {i}')\n"
    "print('\\x1b[1mApply complete! Resources: 3 added\\x1b[0m')\n"
    "print('to stderr', file=sys.stderr)\n"
)


def test_success_is_one_line_and_the_output_goes_to_the_log(tmp_path: Path) -> None:
    out = io.StringIO()
    log = tmp_path / "logs" / "apply.log"
    code = run_step(
        "terraform apply",
        [sys.executable, "-c", NOISY],
        log,
        summary=r"Apply complete! (.*)",
        out=out,
    )
    assert code == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("  terraform apply")
    assert lines[0].endswith(" s  Resources: 3 added")
    text = log.read_text()
    assert "line 0\n" in text
    assert "line 99\n" in text
    assert "to stderr" in text
    assert "\x1b[" not in text  # colours stripped from the log


def test_failure_prints_exit_code_tail_and_log_path(tmp_path: Path) -> None:
    out = io.StringIO()
    log = tmp_path / "build.log"
    script = "import sys\nfor i in range(50): print(f'line {i}')\nsys.exit(3)\n"
    code = run_step("build", [sys.executable, "-c", script], log, out=out)
    assert code == 3
    printed = out.getvalue()
    assert "FAILED after" in printed
    assert "(exit 3)" in printed
    assert f"full log: {log}" in printed
    assert "| line 49" in printed
    assert "| line 20" in printed
    assert "| line 19\n" not in printed  # only the tail (30 lines)
    assert log.read_text().count("\nline ") == 50


def test_verbose_shows_everything(tmp_path: Path) -> None:
    out = io.StringIO()
    run_step("x", [sys.executable, "-c", NOISY], tmp_path / "x.log", verbose=True, out=out)
    assert "line 57" in out.getvalue()


def test_missing_command_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    out = io.StringIO()
    code = run_step("nope", [str(tmp_path / "no-such-binary")], tmp_path / "n.log", out=out)
    assert code == 127
    assert "FAILED" in out.getvalue()


def test_cli_passes_the_exit_code_and_live_runs_on_the_terminal(tmp_path: Path) -> None:
    runner = ROOT / "devtools" / "run_step.py"
    live = subprocess.run(
        [sys.executable, str(runner), "--live", "batch", "--", sys.executable, "-c", "print('hi')"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert live.returncode == 0
    assert live.stdout.splitlines()[1] == "hi"  # the command's own output, not captured
    failed = subprocess.run(
        [
            sys.executable,
            str(runner),
            "--log",
            str(tmp_path / "f.log"),
            "f",
            "--",
            sys.executable,
            "-c",
            "raise SystemExit(4)",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode == 4


def test_helpers() -> None:
    assert duration(3.21) == "3.2 s"
    assert duration(92) == "1 min 32 s"
    lines = ["built /b/a.zip 3.0 MB sha=1", "noise", "built /b/c.zip 1.0 MB sha=2"]
    assert summarise(lines, r"^built \S*/(\S+ \S+ \S+)") == "a.zip 3.0 MB, c.zip 1.0 MB"
    assert summarise(lines, None) == ""
