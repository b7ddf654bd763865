"""The media_process container image, checked from its Dockerfile (no Docker engine here).

The rules, in `dockerfile_problems`: every base image pinned (a digest, or a dated release tag;
never `latest` or a moving tag like `3.12`), the architecture a build argument, the final stage
on the AWS Lambda Python 3.12 base, layers ordered ffmpeg -> dependencies -> code (code last),
the ffmpeg bytes and the wheels verified by checksum, a non-root USER, and the handler as CMD.
A deliberately bad Dockerfile shows each rule fails.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "functions" / "media_process" / "Dockerfile"
HANDLER = "media_process.handler.handler"
LAMBDA_BASE = "public.ecr.aws/lambda/python"
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# A release tag: at least major.minor.patch (the Lambda base's are 3.12.YYYY.MM.DD.HH[-arch]).
RELEASE_TAG = re.compile(r":\d+(\.\d+){2,}(-[a-z0-9_]+)?$")
CODE_DIRS = ("media_triage_shared", "media_process")


@dataclass(frozen=True)
class Instruction:
    op: str
    args: str


def parse(text: str) -> list[Instruction]:
    """Instructions of a Dockerfile: comments dropped, continuation lines joined."""
    out: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        op, _, args = line.partition(" ")
        out.append(Instruction(op.upper(), args.strip()))
    return out


def _resolve(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], m[0]), value)


def _image_of(from_args: str) -> tuple[str, str | None]:
    words = [w for w in from_args.split() if not w.startswith("--")]
    alias = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
    return words[0], alias


def _is_code_copy(i: Instruction) -> bool:
    return i.op == "COPY" and any(f"/{d}" in i.args or i.args.startswith(d) for d in CODE_DIRS)


def _stage_problems(stages: list[tuple[str, str | None]]) -> list[str]:
    problems = []
    for image, _alias in stages:
        tagged = ":" in image.rsplit("/", 1)[-1] or "@" in image
        if image.endswith(":latest") or not tagged:
            problems.append(f"base image {image} is not pinned (latest or no tag)")
        elif not (DIGEST.search(image) or RELEASE_TAG.search(image)):
            problems.append(f"base image {image} is pinned neither by digest nor by release tag")
    if not stages or not stages[-1][0].startswith(f"{LAMBDA_BASE}:3.12"):
        problems.append(f"the final stage is not on {LAMBDA_BASE}:3.12.*")
    return problems


def _order_problems(final: list[Instruction], aliases: set[str]) -> list[str]:
    def first(pred: Callable[[Instruction], bool]) -> int:
        return next((n for n, i in enumerate(final) if pred(i)), -1)

    ffmpeg = first(
        lambda i: (
            i.op == "COPY" and any(f"--from={a}" in i.args for a in aliases) and "ffprobe" in i.args
        )
    )
    deps = first(lambda i: i.op == "RUN" and "pip install" in i.args)
    code = [n for n, i in enumerate(final) if _is_code_copy(i)]
    copies = [n for n, i in enumerate(final) if i.op == "COPY"]
    problems = []
    if ffmpeg < 0:
        problems.append("no COPY of ffmpeg/ffprobe from a pinned stage")
    if deps < 0:
        problems.append("no dependency layer (RUN pip install)")
    if len(code) != len(CODE_DIRS):
        problems.append(f"the code is not copied as {', '.join(CODE_DIRS)}")
    if ffmpeg >= 0 and deps >= 0 and code and not ffmpeg < deps < min(code):
        problems.append("layers are not ordered ffmpeg -> dependencies -> code")
    if code and copies and max(copies) not in code:
        problems.append("the code is not the last COPY")
    return problems


def dockerfile_problems(text: str) -> list[str]:
    """Everything that makes the Dockerfile unfit for the production image (empty: fit)."""
    instructions = parse(text)
    args: dict[str, str] = {}
    stages: list[tuple[str, str | None]] = []
    final: list[Instruction] = []
    for i in instructions:
        if i.op == "ARG" and not stages:  # global ARGs, usable in FROM
            name, _, default = i.args.partition("=")
            args[name] = default
        elif i.op == "FROM":
            stages.append(_image_of(_resolve(i.args, args)))
            final = []
        else:
            final.append(i)
    problems = _stage_problems(stages)
    raw_froms = [i.args for i in instructions if i.op == "FROM"]
    if "ARCH" not in args or not any("${ARCH}" in f for f in raw_froms):
        problems.append("the architecture is not a build argument (ARG ARCH used by FROM)")
    if args.get("ARCH") not in {"arm64", "x86_64"}:
        problems.append("ARG ARCH must default to a Lambda architecture (arm64 | x86_64)")

    aliases = {alias for image, alias in stages[:-1] if alias}
    pinned_ffmpeg = any(DIGEST.search(image) for image, alias in stages[:-1] if alias)
    checked_download = any("sha256sum -c" in i.args for i in instructions if i.op == "RUN")
    if not (pinned_ffmpeg or checked_download):
        problems.append("ffmpeg is neither a digest-pinned stage nor a sha256-checked download")
    if not any("--require-hashes" in i.args for i in final if i.op == "RUN"):
        problems.append("dependencies are installed without --require-hashes")
    problems += _order_problems(final, aliases)

    users = [(n, i.args.split(":")[0]) for n, i in enumerate(final) if i.op == "USER"]
    if not users or users[-1][1] in {"root", "0"}:
        problems.append("the image does not switch to a non-root USER")
    if users and any(i.op == "RUN" for i in final[users[-1][0] :]):
        problems.append("RUN after USER (build steps need root; the runtime does not)")
    cmds = [i.args for i in final if i.op == "CMD"]
    if not cmds or json.loads(cmds[-1]) != [HANDLER]:
        problems.append(f"CMD is not the exec-form handler [{HANDLER!r}]")
    return problems


# ----------------------------------------------------------------------------- the real one


def test_the_media_process_dockerfile_is_fit_for_production() -> None:
    assert dockerfile_problems(DOCKERFILE.read_text()) == []


def test_the_lambda_base_is_pinned_by_a_dated_release_per_architecture() -> None:
    (base,) = [
        i.args for i in parse(DOCKERFILE.read_text()) if i.op == "FROM" and LAMBDA_BASE in i.args
    ]
    for arch in ("arm64", "x86_64"):
        image, _ = _image_of(_resolve(base, {"ARCH": arch}))
        assert re.fullmatch(
            rf"{re.escape(LAMBDA_BASE)}:3\.12\.\d{{4}}(\.\d{{2}}){{3}}-{arch}", image
        )


def test_the_dependency_layer_installs_exactly_the_locked_third_party_wheels() -> None:
    """The Makefile exports what the image installs: uv.lock's pins, with hashes, workspace
    members excluded (they are the code layer)."""
    makefile = (ROOT / "Makefile").read_text()
    export = re.search(r"\$\(UV\) export ([^\n]*\\\n[^\n]*)", makefile)
    assert export, "make image exports the requirements with uv"
    words = shlex.split(export[1].replace("\\\n", " "))
    assert {"--frozen", "--no-dev", "--no-emit-workspace"} <= set(words)
    assert words[words.index("--package") + 1] == "media-process"
    assert "--no-hashes" not in words
    assert "build/image/requirements.txt" in words
    ignore = [
        line.strip()
        for line in (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ignore[0] == "*", "the build context is an allow-list"
    assert {"!build/image/requirements.txt", "!shared/src/media_triage_shared"} <= set(ignore)


def test_make_image_without_docker_says_so_and_fails() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\nimage:") : makefile.index("\nup:")]
    assert "docker info" in recipe
    assert "NOT built" in recipe
    assert "exit 2" in recipe


# ----------------------------------------------------------------------------- rules fail

BAD = """
FROM mwader/static-ffmpeg:7.1 AS ffmpeg
FROM public.ecr.aws/lambda/python:latest
COPY functions/media_process/src/media_process /var/task/media_process
COPY shared/src/media_triage_shared /var/task/media_triage_shared
RUN pip install -r requirements.txt --target /var/task
COPY --from=ffmpeg /ffmpeg /ffprobe /usr/local/bin/
USER 65534
RUN echo late
CMD ["media_process.handler.main"]
"""


@pytest.mark.parametrize(
    "expected",
    [
        "base image mwader/static-ffmpeg:7.1 is pinned neither by digest nor by release tag",
        "base image public.ecr.aws/lambda/python:latest is not pinned",
        "the final stage is not on public.ecr.aws/lambda/python:3.12",
        "the architecture is not a build argument",
        "ffmpeg is neither a digest-pinned stage nor a sha256-checked download",
        "dependencies are installed without --require-hashes",
        "layers are not ordered ffmpeg -> dependencies -> code",
        "the code is not the last COPY",
        "RUN after USER",
        "CMD is not the exec-form handler",
    ],
)
def test_a_bad_dockerfile_is_refused(expected: str) -> None:
    problems = dockerfile_problems(BAD)
    assert any(expected in p for p in problems), problems


def test_running_as_root_is_refused() -> None:
    text = DOCKERFILE.read_text().replace("USER 65534:65534", "USER root")
    assert "the image does not switch to a non-root USER" in dockerfile_problems(text)
    unpinned = DOCKERFILE.read_text().replace("3.12.2026.10.03.13-${ARCH}", "3.12-${ARCH}")
    assert any("pinned neither" in p for p in dockerfile_problems(unpinned))
