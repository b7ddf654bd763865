# Least-privilege statements per function: exact actions on exact ARNs (computed from the names
# in main.tf). The lambda_function module adds each function's own log-group write.

locals {
  # The count that completes a job (media-process) and the PATCH that lowers
  # expectedFileCount (init-session) wake the state machine sleeping on a callback task.
  # IAM cannot scope service-integration task tokens, so Resource "*" (devtools/tf_policy.py
  # RESOURCE_STAR_SIDS; ADR 0007).
  wake_triage_statement = {
    sid       = "WakeTriage"
    actions   = ["states:SendTaskSuccess"]
    resources = ["*"]
  }

  uploads_objects = "${local.arn.bucket}/uploads/*"
  derived_objects = "${local.arn.bucket}/derived/*"

  # Table item actions, by need.
  row_read  = ["dynamodb:GetItem", "dynamodb:Query"]
  row_write = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"]

  # SSE-KMS on the bucket / a customer-managed key on the tables: use of the key only through
  # the service that owns the data.
  bucket_kms_statements = var.bucket_kms_key_arn == null ? [] : [{
    sid       = "UseBucketKeyThroughS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.bucket_kms_key_arn]
    conditions = [{
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }]
  }]

  table_kms_statements = var.table_kms_key_arn == null ? [] : [{
    sid       = "UseTableKeyThroughDynamoDB"
    actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [var.table_kms_key_arn]
    conditions = [{
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${local.region}.amazonaws.com"]
    }]
  }]

  media_process_statements = concat([
    {
      sid       = "ReadOriginals"
      actions   = ["s3:GetObject"]
      resources = [local.uploads_objects]
    },
    {
      sid       = "WriteDerived"
      actions   = ["s3:PutObject"]
      resources = [local.derived_objects]
    },
    {
      # A cancelled job's file: its own original and derived objects, deleted by the
      # invocation that finds the job cancelled (a late upload, or work that outlived DELETE's
      # sweep; issue 13 item 6). IAM cannot scope a grant to one job (the ids are runtime
      # values, and S3 object ARNs take no conditions that could bind them), so the grant is
      # the two prefixes media-process already works in; the code deletes only the keys of
      # the file it was invoked for, and only when the job row says cancelled.
      sid       = "DeleteCancelledFileObjects"
      actions   = ["s3:DeleteObject"]
      resources = [local.uploads_objects, local.derived_objects]
    },
    {
      sid       = "FileRows"
      actions   = concat(local.row_read, local.row_write)
      resources = [local.arn.files_table]
    },
    {
      # Counting a finalised file (in the same transaction as its file row) and pushing the
      # stall deadline forward; the read sees whether the job was cancelled.
      sid       = "JobCounters"
      actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"]
      resources = [local.arn.sessions_table]
    },
    local.wake_triage_statement,
    {
      # The last file counted after the job's execution timed out: start its successor
      # <jobId>-r<n> (reserved on the job row first, so at most one; issue 13 item 4).
      sid       = "StartTriageSuccessor"
      actions   = ["states:StartExecution"]
      resources = [local.arn.state_machine]
    },
    {
      # Only when that count made the job ready: is its execution still running?
      sid       = "DescribeTriageExecutions"
      actions   = ["states:DescribeExecution"]
      resources = [local.arn.executions]
    },
  ], local.bucket_kms_statements, local.table_kms_statements)

  init_session_statements = concat([
    local.wake_triage_statement,
    {
      # Signing presigned POSTs and multipart part PUTs of the originals.
      sid       = "PresignUploads"
      actions   = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
      resources = [local.uploads_objects]
    },
    {
      # Presigned thumbnails, display images and proxies (results, .../media); presigned
      # originals for the page's full-resolution view (.../media); HEAD of originals.
      sid       = "ReadObjects"
      actions   = ["s3:GetObject"]
      resources = [local.uploads_objects, local.derived_objects]
    },
    {
      sid       = "ListSessionObjects"
      actions   = ["s3:ListBucket"]
      resources = [local.arn.bucket]
      conditions = [{
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["uploads/*", "derived/*"]
      }]
    },
    {
      # Cancel finds the job's unfinished multipart uploads to abort them.
      sid       = "ListSessionMultipartUploads"
      actions   = ["s3:ListBucketMultipartUploads"]
      resources = [local.arn.bucket]
    },
    {
      # Cancel deletes the session's objects.
      sid       = "DeleteSessionObjects"
      actions   = ["s3:DeleteObject"]
      resources = [local.uploads_objects, local.derived_objects]
    },
    {
      sid       = "StartTriage"
      actions   = ["states:StartExecution"]
      resources = [local.arn.state_machine]
    },
    {
      sid       = "ControlTriageExecutions"
      actions   = ["states:DescribeExecution", "states:StopExecution"]
      resources = [local.arn.executions]
    },
    {
      # The server secret of tokens and key hashes (ADR 0014): exactly its current and
      # previous generations, read once per container.
      sid       = "ReadTokenSecret"
      actions   = ["ssm:GetParameter"]
      resources = local.arn.token_secret_params
    },
    {
      sid = "SessionAndFileRows"
      # BatchWriteItem: the file rows an init or upload plan registers, 25 per request.
      actions   = concat(local.row_read, local.row_write, ["dynamodb:DeleteItem", "dynamodb:BatchWriteItem"])
      resources = [local.arn.sessions_table, local.arn.files_table]
    },
    ], var.token_secret.kms_key_arn == null ? [] : [
    {
      sid       = "DecryptTokenSecret"
      actions   = ["kms:Decrypt"]
      resources = [var.token_secret.kms_key_arn]
      conditions = [{
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["ssm.${local.region}.amazonaws.com"]
      }]
    },
  ], local.bucket_kms_statements, local.table_kms_statements)

  triage_run_statements = concat([
    {
      # Presigned thumbnails, display images and proxies for the analyzer; the original of a
      # small file that has no derived image (the fallback in triage_run.core._media_for).
      sid       = "ReadMedia"
      actions   = ["s3:GetObject"]
      resources = [local.derived_objects, local.uploads_objects]
    },
    {
      sid       = "ReadFilesWriteVerdicts"
      actions   = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"]
      resources = [local.arn.files_table]
    },
    {
      sid       = "JobSummary"
      actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
      resources = [local.arn.sessions_table]
    },
    ], local.gemini_key_parameter == null ? [] : [
    {
      sid       = "ReadGeminiKey"
      actions   = ["ssm:GetParameter"]
      resources = [local.arn.gemini_key_param]
    },
    ], local.gemini_key_parameter == null || var.triage_run.gemini_api_key_kms_key_arn == null ? [] : [
    {
      sid       = "DecryptGeminiKey"
      actions   = ["kms:Decrypt"]
      resources = [var.triage_run.gemini_api_key_kms_key_arn]
      conditions = [{
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["ssm.${local.region}.amazonaws.com"]
      }]
    },
  ], local.bucket_kms_statements, local.table_kms_statements)
}
