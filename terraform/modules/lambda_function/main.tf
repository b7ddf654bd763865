# One Lambda function with its own role, log group and least-privilege inline policy.

locals {
  is_zip = var.package_type == "Zip"

  manage_async_config = anytrue([
    var.async_maximum_retry_attempts != null,
    var.async_maximum_event_age_seconds != null,
    var.async_on_failure_destination_arn != null,
  ])
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  function_name = var.function_name
  description   = var.description
  role          = aws_iam_role.this.arn
  package_type  = var.package_type
  architectures = var.architectures

  # Zip: the artifact built outside Terraform, updated when its hash changes.
  filename         = local.is_zip ? var.filename : null
  source_code_hash = local.is_zip ? filebase64sha256(var.filename) : null
  handler          = local.is_zip ? var.handler : null
  runtime          = local.is_zip ? var.runtime : null

  # Image: an ECR image, pinned by digest by the caller.
  image_uri = local.is_zip ? null : var.image_uri

  dynamic "image_config" {
    for_each = !local.is_zip && var.image_command != null ? [1] : []
    content {
      command = var.image_command
    }
  }

  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions

  ephemeral_storage {
    size = var.ephemeral_storage_size
  }

  dynamic "environment" {
    for_each = length(var.environment_variables) > 0 ? [1] : []
    content {
      variables = var.environment_variables
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = local.is_zip ? (var.filename != null && var.handler != null) : var.image_uri != null
      error_message = "package_type Zip needs filename and handler; package_type Image needs image_uri."
    }
  }

  # The log group exists before the first invocation (no unmanaged, never-expiring group), and
  # the role can write to it.
  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.logs,
    aws_iam_role_policy.this,
  ]
}

resource "aws_lambda_function_event_invoke_config" "this" {
  count = local.manage_async_config ? 1 : 0

  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.async_maximum_retry_attempts
  maximum_event_age_in_seconds = var.async_maximum_event_age_seconds

  dynamic "destination_config" {
    for_each = var.async_on_failure_destination_arn == null ? [] : [1]
    content {
      on_failure {
        destination = var.async_on_failure_destination_arn
      }
    }
  }

  # Lambda checks that the role may send to the destination when the config is written.
  depends_on = [aws_iam_role_policy.async_destination]
}
