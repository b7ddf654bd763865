"""AWS adapters only the API needs: Step Functions executions and presigned POSTs."""

from __future__ import annotations

from typing import Any

from media_triage_shared.models import TriageInput


class StepFunctionsExecutions:
    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._sfn = client
        self._arn = state_machine_arn

    def start(self, name: str, payload: TriageInput) -> str:
        resp = self._sfn.start_execution(
            stateMachineArn=self._arn, name=name, input=payload.model_dump_json(by_alias=True)
        )
        return str(resp["executionArn"])


class S3UploadSigner:
    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    def presign_post(
        self, key: str, content_type: str, max_bytes: int, expires_in: int
    ) -> tuple[str, dict[str, str]]:
        post = self._s3.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", 0, max_bytes],
            ],
            ExpiresIn=expires_in,
        )
        return str(post["url"]), {str(k): str(v) for k, v in post["fields"].items()}
