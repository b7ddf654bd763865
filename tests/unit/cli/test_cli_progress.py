"""The progress view as the user reads it: every file state, the overall bar, TTY redraws
(ANSI cursor movement) and one line per change on a pipe."""

from __future__ import annotations

import io
import re

from media_triage_cli.progress import (
    FileState,
    LineView,
    Phase,
    ProgressModel,
    Snapshot,
    TtyView,
    render,
)

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def snap(*files: FileState, status: str = "processing", processed: int = 0) -> Snapshot:
    return Snapshot("job123", status, "processing_files", len(files), processed, files, 3.2)


def test_each_file_state_reads_as_a_user_expects() -> None:
    files = (
        FileState("1", "queued.jpg", 100),
        FileState("2", "half.jpg", 200, Phase.UPLOADING, sent=100),
        FileState("3", "retried.jpg", 200, Phase.UPLOADING, sent=0, retries=2, code="http_503"),
        FileState("4", "wait.jpg", 100, Phase.PROCESSING, sent=100),
        FileState("5", "ok.jpg", 100, Phase.VALID, detail="photo 1600x1200"),
        FileState("6", "bad.jpg", 100, Phase.INVALID, code="corrupt"),
        FileState("7", "again.jpg", 100, Phase.DUPLICATE, duplicate_of="ok.jpg"),
        FileState("8", "lost.jpg", 100, Phase.UPLOAD_FAILED, code="AccessDenied"),
    )
    lines = render(snap(*files, processed=3), width=120)

    states = {line.split()[0]: " ".join(line.split()[1:]) for line in lines[1:]}
    assert states == {
        "queued.jpg": "queued",
        "half.jpg": "uploading 50% [#####-----]",
        "retried.jpg": "uploading 0% [----------] retry 2 (http_503)",
        "wait.jpg": "processing",
        "ok.jpg": "valid photo 1600x1200",
        "bad.jpg": "invalid (corrupt)",
        "again.jpg": "duplicate of ok.jpg",
        "lost.jpg": "upload failed (AccessDenied)",
    }


def test_the_overall_line_counts_uploads_and_processed_files() -> None:
    files = (
        FileState("1", "a.jpg", 100, Phase.VALID),
        FileState("2", "b.jpg", 100, Phase.UPLOADING, sent=50),
    )
    (header, *_) = render(snap(*files, processed=1))

    # half the weight is bytes (75 %), half is files final (50 %): 62 %
    assert header.startswith("job job123  processing [###############---------]  62%")
    assert "uploaded 1/2  processed 1/2" in header
    done = render(snap(*files, status="complete", processed=2))[0]
    assert "[########################] 100%" in done


def test_many_files_show_the_unfinished_first_and_sum_up_the_rest() -> None:
    done = [FileState(str(i), f"f{i:02}.jpg", 1, Phase.VALID) for i in range(30)]
    files = (*done, FileState("x", "late.jpg", 10, Phase.UPLOADING, sent=5))
    lines = render(snap(*files), height=10)

    assert len(lines) == 9  # a frame never fills the screen: the cursor line does not scroll
    assert [line.split()[0] for line in lines[1:-1]] == [
        "f00.jpg",
        "f01.jpg",
        "f02.jpg",
        "f03.jpg",
        "f04.jpg",
        "f05.jpg",
        "late.jpg",  # unfinished files are always shown, in their place
    ]
    assert lines[-1] == "  ... 24 more: 24 valid"


def test_colour_marks_the_state_only_on_a_tty() -> None:
    files = (FileState("1", "a.jpg", 1, Phase.INVALID, code="corrupt"),)
    assert "\x1b[31minvalid (corrupt)\x1b[0m" in render(snap(*files), colour=True)[1]
    assert "\x1b" not in "".join(render(snap(*files)))


def test_tty_view_redraws_in_place() -> None:
    stream = io.StringIO()
    view = TtyView(stream, min_interval=0)
    model = ProgressModel("job123", [("1", "a.jpg", 100), ("2", "b.jpg", 100)])

    view.update(model.snapshot())
    first = stream.getvalue()
    model.upload_started("1")
    model.upload_progress("1", 40)
    view.update(model.snapshot())
    second = stream.getvalue()[len(first) :]

    assert "\x1b[" not in first.split("\x1b[2K", 1)[0]  # the first frame moves nothing
    assert second.startswith("\x1b[3F")  # back up over the 3 lines of the first frame
    assert second.count("\x1b[2K") == 3  # each line cleared before it is rewritten
    assert "uploading  40%" in ANSI.sub("", second)


def test_tty_view_clears_leftovers_when_the_frame_shrinks() -> None:
    stream = io.StringIO()
    view = TtyView(stream, min_interval=0)
    view.update(snap(FileState("1", "a", 1), FileState("2", "b", 1)))
    view.update(snap(FileState("1", "a", 1)))
    assert stream.getvalue().endswith("\x1b[J")


def test_line_view_prints_one_line_per_state_change() -> None:
    stream = io.StringIO()
    view = LineView(stream)
    model = ProgressModel("job123", [("1", "a.jpg", 100), ("2", "b.jpg", 100)])

    view.update(model.snapshot())
    model.upload_started("1")
    view.update(model.snapshot())
    for sent in (10, 50, 90):  # progress within a state prints nothing
        model.upload_progress("1", sent)
        view.update(model.snapshot())
    model.upload_done("1")
    view.update(model.snapshot())
    model.apply_results(
        {
            "status": "processing",
            "expectedFileCount": 2,
            "processedCount": 1,
            "files": [
                {
                    "fileId": "1",
                    "filename": "a.jpg",
                    "status": "invalid",
                    "error": {"code": "corrupt"},
                },
                {"fileId": "2", "filename": "b.jpg", "status": "uploading"},
            ],
        }
    )
    view.update(model.snapshot())
    view.update(model.snapshot())

    assert stream.getvalue().splitlines() == [
        "job job123: pending (0/2 processed)",
        "  a.jpg: uploading",
        "  a.jpg: processing",
        "job job123: processing (1/2 processed)",
        "  a.jpg: invalid (corrupt)",
    ]


def test_results_never_undo_what_the_uploader_knows() -> None:
    model = ProgressModel("j", [("1", "a.jpg", 100), ("2", "b.jpg", 100)])
    model.upload_started("1")
    model.upload_progress("1", 30)
    model.upload_failed("2", "AccessDenied", "policy")
    model.apply_results(
        {
            "files": [
                {"fileId": "1", "filename": "a.jpg", "status": "uploading"},
                {"fileId": "2", "filename": "b.jpg", "status": "invalid"},
            ]
        }
    )
    a, b = model.snapshot().files
    assert (a.phase, a.sent) == (Phase.UPLOADING, 30)
    assert (b.phase, b.code) == (Phase.UPLOAD_FAILED, "AccessDenied")
