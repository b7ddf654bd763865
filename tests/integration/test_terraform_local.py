"""terraform/envs/local as applied by the test stack: applying converges (a second plan is
empty), so the emulator reports back what the provider wrote and the config has no drift."""

from __future__ import annotations

import subprocess

import pytest
from stack import ENV_DIR, TF_ENV, Stack

pytestmark = pytest.mark.integration


def test_a_second_plan_after_apply_shows_no_changes(stack: Stack) -> None:
    done = subprocess.run(
        [
            *("terraform", f"-chdir={ENV_DIR}", "plan", "-detailed-exitcode", "-input=false"),
            *(
                "-no-color",
                "-lock=false",
                f"-state={stack.state}",
                f"-var=endpoint={stack.endpoint}",
            ),
        ],
        env=TF_ENV,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    # -detailed-exitcode: 0 = no changes, 1 = error, 2 = changes
    assert done.returncode == 0, f"{done.stdout[-6000:]}\n{done.stderr[-2000:]}"
    assert "No changes." in done.stdout
