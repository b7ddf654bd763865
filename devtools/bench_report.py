"""docs/benchmarks.md, kept by the bench commands: each bench replaces its own section (between
``<!-- bench:NAME -->`` markers) with the figures it just measured, the machine (cores, CPU
model, Python) and the date, and leaves the other sections as they are. The README links to
the document instead of holding figures that nobody re-measured.

    from bench_report import write_section
    write_section("media", "MediaProcess (`make bench-media`)", markdown)
"""

from __future__ import annotations

import os
import platform
import re
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Written by the bench commands (`make bench`, `make bench-<name>`): each run replaces its own
section with what it measured, on which machine and when. Every figure is a ratio against a
baseline measured in the same run; none gates CI. Decisions behind the numbers are in the
ADRs (docs/adr/).
"""


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else platform.machine()


def machine() -> str:
    """``2 cores, <CPU model>, Python 3.11.9 on Linux x86_64``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cores} cores, {_cpu_model()}, Python {platform.python_version()} "
        f"on {platform.system()} {platform.machine()}"
    )


def section(name: str, title: str, markdown: str, *, stamp: str) -> str:
    return (
        f"<!-- bench:{name} -->\n## {title}\n\n_{stamp}_\n\n{markdown.strip()}\n"
        f"<!-- /bench:{name} -->\n"
    )


def replace_section(doc: str, name: str, new: str) -> str:
    """``doc`` with the section ``name`` replaced by ``new`` (appended when it has none)."""
    pattern = re.compile(
        rf"<!-- bench:{re.escape(name)} -->\n.*?<!-- /bench:{re.escape(name)} -->\n", re.DOTALL
    )
    if pattern.search(doc):
        return pattern.sub(lambda _: new, doc, count=1)
    return f"{doc.rstrip()}\n\n{new}"


def write_section(
    name: str, title: str, markdown: str, *, doc: Path = DOC, now: datetime | None = None
) -> Path:
    """Replace the section of bench ``name`` in docs/benchmarks.md with ``markdown`` (tables
    and a few lines of reading), stamped with today's date and this machine."""
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d")
    new = section(name, title, markdown, stamp=f"Measured {when} on {machine()}.")
    old = doc.read_text() if doc.exists() else HEADER
    doc.write_text(replace_section(old, name, new))
    print(f"wrote the {name!r} section of {doc}")
    return doc
