"""Re-drive MediaProcess's dead-letter queue: re-invoke the function with each original S3 event.

    python devtools/redrive_dlq.py --env prod --dry-run      # list what would be re-driven
    python devtools/redrive_dlq.py --env prod                # re-invoke, then delete each
    python devtools/redrive_dlq.py --queue-url URL --function NAME [--max 100]

Each message is a Lambda asynchronous-invocation failure record (the function's on-failure
destination): ``requestContext`` (condition, approximateInvokeCount, functionArn),
``requestPayload`` (the original S3 event), ``responsePayload`` (the last error). The event is
sent again with InvocationType=Event, exactly as S3 sent it; processing is idempotent (guarded
writes, one count per fileId: docs/adr/0003), so a file that did get through meanwhile is not
counted twice. A message is deleted only after Lambda accepted the new invocation (202); one
that is not a failure record, or whose invocation fails, stays in the queue. ``--dry-run``
invokes and deletes nothing and makes every message it read visible again at the end.
Credentials and region come from the usual AWS chain (AWS_PROFILE, AWS_REGION,
AWS_ENDPOINT_URL for the local emulator).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any, Protocol

PROJECT = "media-triage"
RECEIVE_BATCH = 10
VISIBILITY_SECONDS = 120


class SqsClient(Protocol):
    def receive_message(self, **kwargs: Any) -> dict[str, Any]: ...
    def delete_message(self, **kwargs: Any) -> dict[str, Any]: ...
    def change_message_visibility(self, **kwargs: Any) -> dict[str, Any]: ...


class LambdaClient(Protocol):
    def invoke(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass
class Report:
    redriven: list[str] = field(default_factory=list)  # S3 keys (or message ids)
    would_redrive: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # "message id: why"

    @property
    def ok(self) -> bool:
        return not self.kept


def failure_record(body: str) -> dict[str, Any] | None:
    """The S3 event of a Lambda async failure record, or None if the body is not one."""
    try:
        record = json.loads(body)
    except ValueError:
        return None
    payload = record.get("requestPayload") if isinstance(record, dict) else None
    if not isinstance(payload, dict) or not isinstance(payload.get("Records"), list):
        return None
    return payload


def describe(body: str, event: dict[str, Any]) -> str:
    record = json.loads(body)
    keys = [r.get("s3", {}).get("object", {}).get("key", "?") for r in event["Records"]]
    context = record.get("requestContext", {})
    error = (record.get("responsePayload") or {}).get("errorMessage", "")
    return (
        f"{', '.join(keys)} ({context.get('condition', '?')} after "
        f"{context.get('approximateInvokeCount', '?')} attempts: {str(error)[:120]})"
    )


def redrive(
    sqs: SqsClient,
    lambda_client: LambdaClient,
    queue_url: str,
    function_name: str,
    *,
    dry_run: bool = False,
    max_messages: int = 1000,
) -> Report:
    report = Report()
    seen: list[str] = []  # receipt handles of a dry run, made visible again at the end
    handled = 0
    while handled < max_messages:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(RECEIVE_BATCH, max_messages - handled),
            WaitTimeSeconds=1,
            VisibilityTimeout=VISIBILITY_SECONDS,
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            handled += 1
            body, handle = message["Body"], message["ReceiptHandle"]
            event = failure_record(body)
            if event is None:
                report.kept.append(f"{message['MessageId']}: not a Lambda failure record")
                continue
            what = describe(body, event)
            if dry_run:
                report.would_redrive.append(what)
                seen.append(handle)
                continue
            response = lambda_client.invoke(
                FunctionName=function_name, InvocationType="Event", Payload=json.dumps(event)
            )
            if response.get("StatusCode") != 202 or response.get("FunctionError"):
                report.kept.append(f"{message['MessageId']}: invoke answered {response}")
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=handle)
            report.redriven.append(what)
    for handle in seen:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", help="environment (names the queue and the function)")
    parser.add_argument("--queue-url", help="the dead-letter queue (terraform output dlq_url)")
    parser.add_argument("--function", help="media-process function name")
    parser.add_argument("--dry-run", action="store_true", help="only list the failed events")
    parser.add_argument("--max", type=int, default=1000, help="at most this many messages")
    args = parser.parse_args()
    if not args.env and not (args.queue_url and args.function):
        parser.error("give --env, or both --queue-url and --function")

    import boto3

    prefix = f"{PROJECT}-{args.env}"
    sqs = boto3.client("sqs")
    queue_url = (
        args.queue_url or sqs.get_queue_url(QueueName=f"{prefix}-media-process-dlq")["QueueUrl"]
    )
    function = args.function or f"{prefix}-media-process"
    report = redrive(
        sqs,
        boto3.client("lambda"),
        queue_url,
        function,
        dry_run=args.dry_run,
        max_messages=args.max,
    )
    for line in report.would_redrive:
        print(f"would re-drive: {line}")
    for line in report.redriven:
        print(f"re-driven: {line}")
    for line in report.kept:
        print(f"kept in the queue: {line}", file=sys.stderr)
    verb = "would be re-driven" if args.dry_run else "re-driven"
    count = len(report.would_redrive if args.dry_run else report.redriven)
    print(f"{count} event(s) {verb} to {function}; {len(report.kept)} kept in {queue_url}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
