# A STANDARD state machine rendered from an ASL template, with its role and execution logs.

locals {
  # jsondecode() fails the plan (not the apply) on a template that renders to invalid JSON.
  rendered = jsondecode(templatefile(var.definition_template_path, var.definition_variables))

  definition = jsonencode(merge(
    local.rendered,
    var.timeout_seconds == null ? {} : { TimeoutSeconds = var.timeout_seconds },
  ))
}

resource "aws_cloudwatch_log_group" "this" {
  # The /aws/vendedlogs/ prefix keeps the CloudWatch Logs resource policy small (AWS guidance
  # for vended logs).
  name              = "/aws/vendedlogs/states/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_sfn_state_machine" "this" {
  name       = var.name
  type       = "STANDARD" # the poll loop outlives Express's 5 minutes
  role_arn   = aws_iam_role.this.arn
  definition = local.definition

  logging_configuration {
    level                  = var.log_level
    include_execution_data = var.include_execution_data
    log_destination        = "${aws_cloudwatch_log_group.this.arn}:*"
  }

  tracing_configuration {
    enabled = var.tracing_enabled
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.this]
}
