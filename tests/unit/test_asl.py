"""Shape and behaviour of the triage state machine (statemachine/triage.asl.json).

The template is rendered the way Terraform's ``templatefile()`` renders it, then checked for
structure (reachability, targets, Retry/Catch) and run in moto's Step Functions interpreter
(the one the local emulator uses) against an in-memory DynamoDB table.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.tables import create_app_tables

from media_triage_shared.adapters.dynamo import DynamoJobRepository
from media_triage_shared.adapters.wake import JobWaker

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "statemachine" / "triage.asl.json"

REGION = "us-east-1"
ACCOUNT = "123456789012"
SESSIONS_TABLE = "media-triage-test-sessions"
TRIAGE_FN = "media-triage-test-triage-run"
TRIAGE_FN_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{TRIAGE_FN}"

# Every placeholder the template may use, with the values the media_triage module passes.
SAMPLE_VALUES = {
    "sessions_table": SESSIONS_TABLE,
    "triage_run_function_arn": TRIAGE_FN_ARN,
    "poll_interval_seconds": "3",
}

# Transient errors every Task must retry (with back-off).
TRANSIENT_LAMBDA = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "States.Timeout",
}
TRANSIENT_DYNAMODB = {
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.InternalServerErrorException",
    "States.Timeout",
}
# AWS SDK integrations name errors after the SDK's service ("DynamoDb."); a callback task's
# States.Timeout is its sleep ending, caught into Poll, never retried.
TRANSIENT_SDK_DYNAMODB = {
    "DynamoDb.ProvisionedThroughputExceededException",
    "DynamoDb.InternalServerErrorException",
    "DynamoDb.ThrottlingException",
}
# Retrying these would retry permanent failures (a handler bug, a bad request).
BLANKET_ERRORS = {"States.ALL", "States.TaskFailed"}

_PLACEHOLDER = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render(template: str, values: dict[str, str]) -> str:
    """Terraform templatefile() semantics for what the template uses: ``${name}``
    interpolation (an unknown name is an error), ``$${`` escapes; no ``%{`` directives."""
    assert "%{" not in template, "template directives are not used in the ASL template"
    missing = set(_PLACEHOLDER.findall(template)) - set(values)
    assert not missing, f"template uses unknown placeholders: {sorted(missing)}"
    out = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    return out.replace("$${", "${")


def rendered(**overrides: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(render(ASL.read_text(), {**SAMPLE_VALUES, **overrides}))
    return out


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return rendered()


@pytest.fixture(scope="module")
def states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(definition["States"])


def targets(state: dict[str, Any]) -> list[str]:
    """Every state name a state can hand over to."""
    out = [state["Next"]] if "Next" in state else []
    out += [c["Next"] for c in state.get("Catch", [])]
    out += [c["Next"] for c in state.get("Choices", [])]
    if "Default" in state:
        out.append(state["Default"])
    return out


def reachable(states: dict[str, dict[str, Any]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(targets(states[name]))
    return seen


def walk_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from walk_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_strings(value)


# ----------------------------------------------------------------------------- template


def test_template_is_valid_json_before_rendering() -> None:
    json.loads(ASL.read_text())


def test_placeholders_are_the_documented_ones_and_only_inside_strings() -> None:
    text = ASL.read_text()
    used = _PLACEHOLDER.findall(text)
    assert set(used) == set(SAMPLE_VALUES)
    in_strings = [p for s in walk_strings(json.loads(text)) for p in _PLACEHOLDER.findall(s)]
    assert sorted(in_strings) == sorted(used)


def test_rendered_definition_is_json_without_unresolved_placeholders() -> None:
    text = render(ASL.read_text(), SAMPLE_VALUES)
    json.loads(text)
    assert "${" not in text


def test_machine_starts_at_poll_with_a_timeout_backstop(definition: dict[str, Any]) -> None:
    assert definition["StartAt"] == "Poll"
    # The state_machine module replaces it with var.timeout_seconds (default 3600).
    assert definition["TimeoutSeconds"] == 3600


# ----------------------------------------------------------------------------- graph


def test_every_target_exists(states: dict[str, dict[str, Any]]) -> None:
    for name, state in states.items():
        for target in targets(state):
            assert target in states, f"{name} -> {target}: no such state"


def test_every_state_is_reachable_from_start(
    definition: dict[str, Any], states: dict[str, dict[str, Any]]
) -> None:
    assert reachable(states, definition["StartAt"]) == set(states)


def test_every_non_terminal_state_has_a_way_out(states: dict[str, dict[str, Any]]) -> None:
    for name, state in states.items():
        if state["Type"] in {"Succeed", "Fail"}:
            continue
        assert targets(state) or state.get("End") is True, f"{name} is a dead end"


# ----------------------------------------------------------------------------- error handling


def test_every_task_retries_transient_errors_only(states: dict[str, dict[str, Any]]) -> None:
    for name, state in states.items():
        if state["Type"] != "Task":
            continue
        assert state.get("Retry"), f"{name} has no Retry"
        retried = {e for r in state["Retry"] for e in r["ErrorEquals"]}
        assert not retried & BLANKET_ERRORS, f"{name} retries permanent failures"
        resource = state["Resource"]
        expected = (
            TRANSIENT_LAMBDA
            if ":lambda:" in resource
            else TRANSIENT_SDK_DYNAMODB
            if ":aws-sdk:dynamodb:" in resource
            else TRANSIENT_DYNAMODB
        )
        assert expected <= retried, f"{name} misses {sorted(expected - retried)}"
        for retrier in state["Retry"]:
            assert retrier["BackoffRate"] > 1
            assert retrier["MaxAttempts"] >= 2


def test_every_task_but_mark_failed_catches_everything_into_mark_failed(
    states: dict[str, dict[str, Any]],
) -> None:
    for name, state in states.items():
        if state["Type"] != "Task" or name == "MarkFailed":
            continue
        catch_all = [c for c in state.get("Catch", []) if "States.ALL" in c["ErrorEquals"]]
        assert len(catch_all) == 1, f"{name} has no States.ALL catcher"
        assert catch_all[0]["Next"] == "MarkFailed"
        assert catch_all[0]["ResultPath"] == "$.error"
        # States.ALL must be the last catcher (ASL requirement).
        assert state["Catch"][-1] is catch_all[0]


def test_mark_failed_cannot_loop(states: dict[str, dict[str, Any]]) -> None:
    # MarkFailed is the terminal path: it retries transient errors (above), and its catchers
    # lead only to terminal states, so a failure to record the failure still ends the
    # execution (in Fail, or in Succeed when the job was cancelled meanwhile) and never
    # re-enters the machine. Its catch-all keeps $.error so the Fail state reports the cause.
    mark_failed = states["MarkFailed"]
    assert states[mark_failed["Next"]]["Type"] == "Fail"
    for catcher in mark_failed["Catch"]:
        assert states[catcher["Next"]]["Type"] in {"Fail", "Succeed"}
        assert catcher["ResultPath"] != "$.error"
    assert reachable(states, "MarkFailed") <= {"MarkFailed", "Failed", "Cancelled"}


def test_mark_failed_records_status_phase_cause_and_time(
    states: dict[str, dict[str, Any]],
) -> None:
    params = states["MarkFailed"]["Parameters"]
    assert states["MarkFailed"]["Resource"] == "arn:aws:states:::dynamodb:updateItem"
    names = params["ExpressionAttributeNames"]
    values = params["ExpressionAttributeValues"]
    sets = dict(
        part.strip().split(" = ")
        for part in params["UpdateExpression"].split(" ADD ")[0].removeprefix("SET ").split(",")
    )
    resolved = {names.get(k, k): values[v] for k, v in sets.items()}
    assert resolved["status"] == {"S": "failed"}
    assert "phase" in resolved
    assert resolved["error"] == {"S.$": "$.error.Cause"}
    assert resolved["updatedAt"] == {"S.$": "$$.State.EnteredTime"}
    assert states["Failed"]["Type"] == "Fail"


@pytest.mark.parametrize("state", ["MarkAnalyzing", "MarkFailed"])
def test_the_machines_status_writes_bump_the_job_version(
    states: dict[str, dict[str, Any]], state: str
) -> None:
    """The results ETag comes from the job's version (ADR 0019): the machine's own status
    writes bump it like every other write the results show."""
    params = states[state]["Parameters"]
    assert params["UpdateExpression"].endswith(" ADD version :one")
    assert params["ExpressionAttributeValues"][":one"] == {"N": "1"}


# ----------------------------------------------------------------------------- polling


def test_poll_reads_the_job_row_with_dynamodb_get_item(states: dict[str, dict[str, Any]]) -> None:
    poll = states["Poll"]
    assert poll["Type"] == "Task"
    assert poll["Resource"] == "arn:aws:states:::dynamodb:getItem"
    params = poll["Parameters"]
    assert params["TableName"] == SESSIONS_TABLE
    assert params["ConsistentRead"] is True
    assert params["Key"] == {
        "pk": {"S.$": "States.Format('SESSION#{}', $.sessionId)"},
        "sk": {"S.$": "States.Format('JOB#{}', $.jobId)"},
    }
    selector = poll["ResultSelector"]
    assert selector["expectedFileCount.$"] == "States.StringToJson($.Item.expectedFileCount.N)"
    assert selector["processedCount.$"] == "States.StringToJson($.Item.processedCount.N)"
    assert selector["status.$"] == "$.Item.status.S"
    assert selector["stallDeadline.$"] == "$.Item.stallDeadline.S"


def test_poll_loop_invokes_no_lambda(states: dict[str, dict[str, Any]]) -> None:
    loop = ["Poll", states["Poll"]["Next"], states[states["Poll"]["Next"]]["Default"]]
    assert states[loop[1]]["Type"] == "Choice"
    sleep = states[loop[2]]
    assert sleep["Type"] == "Task"
    assert sleep["Next"] == "Poll"
    for name in loop:
        assert ":lambda:" not in states[name].get("Resource", "")


def test_the_loop_sleeps_on_a_callback_stored_on_the_job_row(
    states: dict[str, dict[str, Any]],
) -> None:
    """WaitForFiles writes its task token to the job row and waits to be woken (ADR 0007):
    only while files are still expected, timing out into Poll, a failed condition into a short
    Recheck wait (never a tight loop), anything else into MarkFailed."""
    sleep = states["WaitForFiles"]
    assert sleep["Resource"] == "arn:aws:states:::aws-sdk:dynamodb:updateItem.waitForTaskToken"
    params = sleep["Parameters"]
    assert params["TableName"] == SESSIONS_TABLE
    assert params["Key"] == states["Poll"]["Parameters"]["Key"]
    assert params["UpdateExpression"] == "SET progressToken = :token"
    assert params["ExpressionAttributeValues"][":token"] == {"S.$": "$$.Task.Token"}
    assert "processedCount < expectedFileCount" in params["ConditionExpression"]
    assert sleep["TimeoutSecondsPath"] == "$.job.pollIntervalSeconds"
    assert sleep["ResultPath"] is None
    catches = {tuple(c["ErrorEquals"]): c["Next"] for c in sleep["Catch"]}
    assert catches == {
        ("States.Timeout",): "Poll",
        ("DynamoDb.ConditionalCheckFailedException",): "Recheck",
        ("States.ALL",): "MarkFailed",
    }
    recheck = states["Recheck"]
    assert (recheck["Type"], recheck["Next"]) == ("Wait", "Poll")
    assert recheck["Seconds"] >= 1


@pytest.mark.parametrize("seconds", ["1", "30"])
def test_the_sleep_is_bounded_by_the_rendered_interval(seconds: str) -> None:
    states = rendered(poll_interval_seconds=seconds)["States"]
    sleep = states[states["Evaluate"]["Default"]]
    # TimeoutSecondsPath reads the number the Poll ResultSelector put in the state's input.
    assert sleep["TimeoutSecondsPath"] == "$.job.pollIntervalSeconds"
    assert states["Poll"]["ResultPath"] == "$.job"
    selector = states["Poll"]["ResultSelector"]["pollIntervalSeconds.$"]
    assert selector == f"States.StringToJson('{seconds}')"
    assert json.loads(seconds) == int(seconds)


def test_triage_run_invokes_the_function_with_the_contract_payload(
    states: dict[str, dict[str, Any]],
) -> None:
    task = states["TriageRun"]
    assert task["Resource"] == "arn:aws:states:::lambda:invoke"
    assert task["Parameters"]["FunctionName"] == TRIAGE_FN_ARN
    assert task["Parameters"]["Payload"] == {
        "sessionId.$": "$.sessionId",
        "jobId.$": "$.jobId",
        "partial.$": "$.partial",
    }
    assert task["OutputPath"] == "$.Payload"


def test_definition_parses_with_the_emulators_interpreter() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    program, _ = AmazonStateLanguageParser.parse(render(ASL.read_text(), SAMPLE_VALUES))
    assert program is not None


# ----------------------------------------------------------------------------- executions
#
# moto's interpreter (the emulator's) runs the rendered machine against moto's DynamoDB; the
# Lambda backend without Docker echoes the payload back, which shows exactly what TriageRun
# receives. Polls every second to keep the tests short.


def _iso(delta_seconds: int) -> str:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delta_seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def aws_timestamps_in_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto 5.2.5 gives ``$$.State.EnteredTime`` as ``...:SS.ffffff+00:00`` and its Timestamp
    comparisons only parse ``...:SSZ``, so a stall is never seen (devtools/local_aws/GAPS.md).
    AWS compares RFC 3339 timestamps with fractional seconds; patch the parser to match."""
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations import (  # noqa: E501
        is_operator,
    )

    def parse(string: str) -> dt.datetime | None:
        if not isinstance(string, str) or "T" not in string:
            return None
        try:
            moment = dt.datetime.fromisoformat(string.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else None

    monkeypatch.setattr(is_operator.IsTimestamp, "string_to_timestamp", staticmethod(parse))


class Run:
    def __init__(self, clients: dict[str, Any], machine_arn: str) -> None:
        self.ddb = clients["dynamodb"]
        self.sfn = clients["stepfunctions"]
        self.machine_arn = machine_arn

    def put_job(self, **attrs: Any) -> None:
        item = {"pk": {"S": "SESSION#s1"}, "sk": {"S": "JOB#j1"}}
        for name, value in attrs.items():
            item[name] = {"N": str(value)} if isinstance(value, int) else {"S": value}
        self.ddb.put_item(TableName=SESSIONS_TABLE, Item=item)

    def job(self) -> dict[str, Any]:
        key = {"pk": {"S": "SESSION#s1"}, "sk": {"S": "JOB#j1"}}
        item = self.ddb.get_item(TableName=SESSIONS_TABLE, Key=key)["Item"]
        return {k: next(iter(v.values())) for k, v in item.items()}

    def start(self) -> str:
        return str(
            self.sfn.start_execution(
                stateMachineArn=self.machine_arn,
                name="j1",
                input=json.dumps({"sessionId": "s1", "jobId": "j1"}),
            )["executionArn"]
        )

    def wait(self, arn: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            desc = self.sfn.describe_execution(executionArn=arn)
            if desc["status"] != "RUNNING":
                return dict(desc)
            time.sleep(0.2)
        self.sfn.stop_execution(executionArn=arn)
        pytest.fail(f"execution still running after {timeout}s: {self.path(arn)}")

    def path(self, arn: str) -> list[str]:
        events = self.sfn.get_execution_history(executionArn=arn)["events"]
        return [
            e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
        ]


@pytest.fixture
def run(aws_timestamps_in_moto: None) -> Iterator[Callable[..., Run]]:
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")

    with contextlib.ExitStack() as stack:

        def make(with_function: bool = True, poll_interval_seconds: str = "1") -> Run:
            # Without Docker, moto's Lambda stub answers every invoke, for any name, with the
            # payload; without the stub, invoking a missing function fails as AWS does.
            config: dict[str, Any] = {"stepfunctions": {"execute_state_machine": True}}
            if with_function:
                config["lambda"] = {"use_docker": False}
            stack.enter_context(moto.mock_aws(config=config))
            clients = {
                s: boto3.client(s, region_name=REGION) for s in ("dynamodb", "stepfunctions")
            }
            create_app_tables(clients["dynamodb"], SESSIONS_TABLE)
            if with_function:
                _create_triage_function(boto3)
            machine = clients["stepfunctions"].create_state_machine(
                name="media-triage-test-triage",
                definition=render(
                    ASL.read_text(),
                    {**SAMPLE_VALUES, "poll_interval_seconds": poll_interval_seconds},
                ),
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/media-triage-test-triage-sfn",
            )
            return Run(clients, machine["stateMachineArn"])

        yield make


def _create_triage_function(boto3: Any) -> None:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("triage_run/handler.py", "def handler(event, context):\n    return event\n")
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName=TRIAGE_FN, AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=TRIAGE_FN,
        Runtime="python3.12",
        Role=role,
        Handler="triage_run.handler.handler",
        Code={"ZipFile": buf.getvalue()},
    )


@pytest.mark.slow
def test_run_cancelled_job_ends_without_triage(run: Callable[..., Run]) -> None:
    r = run()
    r.put_job(status="cancelled", expectedFileCount=3, processedCount=1, stallDeadline=_iso(600))
    arn = r.start()
    assert r.wait(arn)["status"] == "SUCCEEDED"
    assert r.path(arn) == ["Poll", "Evaluate", "Cancelled"]
    assert r.job()["status"] == "cancelled"


@pytest.mark.slow
def test_run_waits_for_the_last_file_then_triages_everything(run: Callable[..., Run]) -> None:
    r = run()
    r.put_job(status="processing", expectedFileCount=2, processedCount=1, stallDeadline=_iso(600))
    arn = r.start()
    time.sleep(1.5)
    assert r.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    r.ddb.update_item(
        TableName=SESSIONS_TABLE,
        Key={"pk": {"S": "SESSION#s1"}, "sk": {"S": "JOB#j1"}},
        UpdateExpression="SET processedCount = :two",
        ExpressionAttributeValues={":two": {"N": "2"}},
    )
    done = r.wait(arn)
    assert done["status"] == "SUCCEEDED"
    # The TriageRun payload, echoed by the stub function.
    assert json.loads(done["output"]) == {"sessionId": "s1", "jobId": "j1", "partial": False}
    path = r.path(arn)
    assert path[:3] == ["Poll", "Evaluate", "WaitForFiles"]
    assert path[-4:] == ["AllFilesProcessed", "MarkAnalyzing", "TriageRun", "Complete"]
    job = r.job()
    assert (job["status"], job["phase"], job["partial"]) == ("analyzing", "analyzing", False)


@pytest.mark.slow
def test_run_sleeps_until_woken_by_the_token_on_the_job_row(run: Callable[..., Run]) -> None:
    r = run(poll_interval_seconds="60")  # a wake-up, not the timeout, must end the sleep
    r.put_job(
        status="processing",
        phase="waiting_for_files",
        sessionId="s1",
        jobId="j1",
        expectedFileCount=2,
        processedCount=1,
        tokenHash="h",
        createdAt=_iso(0),
        updatedAt=_iso(0),
        stallDeadline=_iso(600),
        expiresAt=2_000_000_000,
    )
    arn = r.start()
    deadline = time.monotonic() + 10
    while "progressToken" not in r.job():
        assert time.monotonic() < deadline, "the token never reached the job row"
        time.sleep(0.1)
    # Every reader of the job row (MediaProcess, the API, TriageRun) still parses it.
    read = DynamoJobRepository(r.ddb, SESSIONS_TABLE).get_job("s1", "j1")
    assert read is not None
    assert read.progress_token == r.job()["progressToken"]
    # not ready yet (1 of 2): nobody may wake it
    assert not JobWaker(r.ddb, r.sfn, SESSIONS_TABLE).wake_if_ready("s1", "j1")
    r.ddb.update_item(
        TableName=SESSIONS_TABLE,
        Key={"pk": {"S": "SESSION#s1"}, "sk": {"S": "JOB#j1"}},
        UpdateExpression="SET processedCount = :two",
        ExpressionAttributeValues={":two": {"N": "2"}},
    )
    waker = JobWaker(r.ddb, r.sfn, SESSIONS_TABLE)
    assert waker.wake_if_ready("s1", "j1")  # what MediaProcess does after the last count
    done = r.wait(arn, timeout=15)  # well before the 60 s timeout
    assert done["status"] == "SUCCEEDED"
    path = r.path(arn)
    assert path[:4] == ["Poll", "Evaluate", "WaitForFiles", "Poll"]
    assert "AllFilesProcessed" in path
    events = r.sfn.get_execution_history(executionArn=arn)["events"]
    ended = [e["type"] for e in events if e["type"] in {"TaskSucceeded", "TaskTimedOut"}]
    assert "TaskTimedOut" not in ended  # the sleep ended by the wake-up


@pytest.mark.slow
def test_run_a_row_the_sleep_may_not_wait_on_is_rechecked_not_slept_on(
    run: Callable[..., Run],
) -> None:
    """The token write's condition fails when the row moved on between Poll and the write (the
    last file was counted, or another writer changed the status): Recheck, a 1 s Wait, then
    Poll again; no sleep, no failure."""
    r = run(poll_interval_seconds="60")
    # 'analyzing' with a file missing: Evaluate waits, the token write's condition refuses.
    r.put_job(status="analyzing", expectedFileCount=2, processedCount=1, stallDeadline=_iso(600))
    arn = r.start()
    deadline = time.monotonic() + 10
    while "Recheck" not in r.path(arn):
        assert time.monotonic() < deadline, r.path(arn)
        time.sleep(0.2)
    assert "progressToken" not in r.job()
    r.ddb.update_item(
        TableName=SESSIONS_TABLE,
        Key={"pk": {"S": "SESSION#s1"}, "sk": {"S": "JOB#j1"}},
        UpdateExpression="SET processedCount = :two",
        ExpressionAttributeValues={":two": {"N": "2"}},
    )
    done = r.wait(arn, timeout=15)  # nobody wakes it: the Recheck loop finds the job ready
    assert done["status"] == "SUCCEEDED"
    path = r.path(arn)
    assert path[:5] == ["Poll", "Evaluate", "WaitForFiles", "Recheck", "Poll"]
    assert "MarkFailed" not in path


@pytest.mark.slow
def test_run_stalled_job_with_files_triages_what_arrived(run: Callable[..., Run]) -> None:
    r = run()
    r.put_job(status="processing", expectedFileCount=5, processedCount=2, stallDeadline=_iso(-5))
    arn = r.start()
    done = r.wait(arn)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"])["partial"] is True
    assert "StalledWithFiles" in r.path(arn)
    assert r.job()["partial"] is True


@pytest.mark.slow
def test_run_stalled_job_without_files_fails_with_the_cause(run: Callable[..., Run]) -> None:
    r = run()
    r.put_job(status="pending", expectedFileCount=5, processedCount=0, stallDeadline=_iso(-5))
    arn = r.start()
    done = r.wait(arn)
    assert (done["status"], done["error"]) == ("FAILED", "TriageFailed")
    assert done["cause"] == "stalled: no file arrived"
    assert r.path(arn)[-3:] == ["StalledWithoutFiles", "MarkFailed", "Failed"]
    job = r.job()
    assert (job["status"], job["error"]) == ("failed", "stalled: no file arrived")


@pytest.mark.slow
def test_run_triage_failure_marks_the_job_failed(run: Callable[..., Run]) -> None:
    r = run(with_function=False)  # TriageRun cannot be invoked: a permanent failure
    r.put_job(status="processing", expectedFileCount=1, processedCount=1, stallDeadline=_iso(600))
    arn = r.start()
    done = r.wait(arn)
    assert (done["status"], done["error"]) == ("FAILED", "TriageFailed")
    assert r.path(arn)[-3:] == ["TriageRun", "MarkFailed", "Failed"]
    job = r.job()
    assert job["status"] == "failed"
    assert TRIAGE_FN in job["error"]
