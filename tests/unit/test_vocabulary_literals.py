"""The functions speak the vocabulary: no job phase or status is spelled as a string literal where
it is written or compared, and no function defines its own set of job statuses (they live in
``media_triage_shared.vocabulary``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from media_triage_shared.vocabulary import JobPhase, JobStatus

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "functions").glob("*/src/**/*.py"))
WORDS = {m.value for m in JobPhase} | {m.value for m in JobStatus}
PHASE_WRITERS = {"set_status": 3, "begin_retry": 3}  # positional index of ``phase``


def _is_word(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value in WORDS


def _literals(tree: ast.AST) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            args: list[ast.AST | None] = [k.value for k in node.keywords if k.arg == "phase"]
            if name in PHASE_WRITERS and len(node.args) > PHASE_WRITERS[name]:
                args.append(node.args[PHASE_WRITERS[name]])
            found += [f"{name}(phase={ast.unparse(a)})" for a in args if _is_word(a)]
            if name == "frozenset" and node.args and "JobStatus." in ast.unparse(node.args[0]):
                found.append(f"status set {ast.unparse(node)}")
        elif isinstance(node, ast.Set | ast.Tuple | ast.List) and any(map(_is_word, node.elts)):
            found.append(f"collection {ast.unparse(node)}")
        elif isinstance(node, ast.Compare) and any(map(_is_word, [node.left, *node.comparators])):
            found.append(f"comparison {ast.unparse(node)}")
        elif isinstance(node, ast.IfExp) and (_is_word(node.body) or _is_word(node.orelse)):
            found.append(f"choice {ast.unparse(node)}")
    return found


def test_the_sources_are_found() -> None:
    assert len(SOURCES) > 20


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT / "functions")))
def test_no_phase_or_status_is_spelled_as_a_literal(path: Path) -> None:
    assert _literals(ast.parse(path.read_text())) == []


def test_the_check_catches_a_literal() -> None:
    source = (
        'jobs.set_status(s, j, JobStatus.FAILED, "failed")\n'
        'jobs.begin_retry(s, j, st, phase="waiting_for_files", stall_deadline=d)\n'
        "OPEN = frozenset({JobStatus.PENDING})\n"
        'ok = job.status in {"pending", "processing"}\n'
        'p = "processing_files" if f else "waiting_for_files"\n'
    )
    assert len(_literals(ast.parse(source))) == 5
