# What operators need: the dead-letter queue that receives MediaProcess's asynchronous
# invocations that failed for good (after Lambda's own retries), and the alarms (alarms.tf).

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  # Computed from the queue's name (known at plan time, and a dependency on the queue): the
  # function's on-failure destination and its sqs:SendMessage grant are reviewable in the plan,
  # and the destination is only configured once the queue exists.
  dlq_arn = join(":", [
    "arn", data.aws_partition.current.partition, "sqs", data.aws_region.current.name,
    data.aws_caller_identity.current.account_id, aws_sqs_queue.this.name,
  ])
}

resource "aws_sqs_queue" "this" {
  name                      = var.dlq_name
  message_retention_seconds = var.dlq_message_retention_seconds

  # SSE-SQS (service-managed keys) unless a customer-managed key is given; either way nothing
  # in the failure records (S3 event payloads: bucket, key, size) sits unencrypted at rest.
  sqs_managed_sse_enabled           = var.dlq_kms_key_arn == null ? true : null
  kms_master_key_id                 = var.dlq_kms_key_arn
  kms_data_key_reuse_period_seconds = var.dlq_kms_key_arn == null ? null : 300

  tags = var.tags
}
