"""Step Functions executions of the triage state machine, by deterministic name."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from media_triage_shared.models import TriageInput


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class StepFunctionsExecutions:
    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._sfn = client
        self._arn = state_machine_arn

    def execution_arn(self, name: str) -> str:
        return f"{self._arn.replace(':stateMachine:', ':execution:', 1)}:{name}"

    def start(self, name: str, payload: TriageInput) -> str:
        try:
            resp = self._sfn.start_execution(
                stateMachineArn=self._arn, name=name, input=payload.model_dump_json(by_alias=True)
            )
        except ClientError as exc:
            if _code(exc) != "ExecutionAlreadyExists":
                raise
            return self.execution_arn(name)  # started by an earlier call: never a second one
        return str(resp["executionArn"])

    def stop(self, name: str, cause: str) -> bool:
        try:
            self._sfn.stop_execution(executionArn=self.execution_arn(name), cause=cause)
        except ClientError as exc:
            if _code(exc) in {"ExecutionDoesNotExist", "ExecutionNotRunning", "InvalidArn"}:
                return False
            raise
        return True

    def status(self, name: str) -> str | None:
        try:
            resp = self._sfn.describe_execution(executionArn=self.execution_arn(name))
        except ClientError as exc:
            if _code(exc) in {"ExecutionDoesNotExist", "InvalidArn"}:
                return None
            raise
        return str(resp["status"])
