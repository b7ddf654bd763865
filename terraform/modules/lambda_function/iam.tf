# The function's role: the module adds the log-group write; the caller's statements carry
# everything else, with exact ARNs (kept in a separate inline policy so that they are fully
# known at plan time and can be reviewed in `terraform plan`).

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.function_name
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  # The log group's ARN computed from its name, so that this policy (like the caller's) is
  # known at plan time and can be reviewed in `terraform plan` and tested from its JSON.
  log_group_arn = join(":", [
    "arn", data.aws_partition.current.partition, "logs", data.aws_region.current.name,
    data.aws_caller_identity.current.account_id, "log-group", aws_cloudwatch_log_group.this.name,
  ])
}

data "aws_iam_policy_document" "logs" {
  statement {
    sid       = "WriteOwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arn}:*"]
  }
}

# The on-failure destination's grant is a policy of its own: only the async invoke config waits
# for it (and for the destination, e.g. a queue the provider takes ~30 s to create), not the
# function.
data "aws_iam_policy_document" "async_destination" {
  count = var.async_on_failure_destination_arn == null ? 0 : 1

  statement {
    sid       = "SendFailedAsyncEvents"
    actions   = [local.destination_actions[split(":", var.async_on_failure_destination_arn)[2]]]
    resources = [var.async_on_failure_destination_arn]
  }
}

resource "aws_iam_role_policy" "async_destination" {
  count = var.async_on_failure_destination_arn == null ? 0 : 1

  name   = "async-on-failure-destination"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.async_destination[0].json
}

locals {
  # The one action an asynchronous on-failure destination needs, by the service in its ARN.
  destination_actions = {
    sqs    = "sqs:SendMessage"
    sns    = "sns:Publish"
    lambda = "lambda:InvokeFunction"
    events = "events:PutEvents"
  }
}

resource "aws_iam_role_policy" "logs" {
  name   = "logs"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.logs.json
}

data "aws_iam_policy_document" "this" {
  dynamic "statement" {
    for_each = var.policy_statements
    content {
      sid       = statement.value.sid
      effect    = statement.value.effect
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "this" {
  count = length(var.policy_statements) > 0 ? 1 : 0

  name   = "least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}
