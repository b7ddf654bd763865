# CloudWatch alarms: the dead-letter queue's depth, the state machine's failed and timed-out
# executions, and every function's errors and throttles. Actions go to var.alarm_sns_topic_arn
# (ALARM and OK); without a topic the alarms still change state (console, CLI, dashboards).

locals {
  actions = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]

  lambda_alarms = merge([
    for role, function_name in var.function_names : {
      "${role}-errors" = {
        function_name = function_name
        metric        = "Errors"
        threshold     = var.lambda_errors_threshold
        description   = "${function_name}: invocations ended in an unhandled error (media-process: infrastructure errors, retried by Lambda; triage-run: the analyzer failed for good, the job is marked failed). See docs/runbook.md."
      }
      "${role}-throttles" = {
        function_name = function_name
        metric        = "Throttles"
        threshold     = var.lambda_throttles_threshold
        description   = "${function_name}: invocations throttled (reserved concurrency cap or account limit). Asynchronous events are retried by Lambda; API calls get 429/500. See docs/runbook.md."
      }
    }
  ]...)

  state_machine_alarms = {
    "triage-executions-failed" = {
      metric      = "ExecutionsFailed"
      threshold   = var.state_machine_failed_threshold
      description = "Triage executions ended Failed: the job row has status failed and the cause (analyzer unavailable, no file arrived before the stall deadline, a task error). See docs/runbook.md."
    }
    "triage-executions-timed-out" = {
      metric      = "ExecutionsTimedOut"
      threshold   = 0
      description = "Triage executions hit the execution timeout (a backstop): the job never reached triage nor failed cleanly; its row may still say processing. See docs/runbook.md (stuck jobs)."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  count = var.alarms_enabled ? 1 : 0

  alarm_name          = "${var.name_prefix}-media-process-dlq-depth"
  alarm_description   = "Uploads whose MediaProcess invocation failed for good are waiting in ${var.dlq_name}: their files are not counted, so their jobs wait for the stall deadline. Redrive with devtools/redrive_dlq.py (docs/runbook.md)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.this.name }
  statistic           = "Maximum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "state_machine" {
  for_each = var.alarms_enabled ? local.state_machine_alarms : {}

  alarm_name          = "${var.name_prefix}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/States"
  metric_name         = each.value.metric
  dimensions          = { StateMachineArn = var.state_machine_arn }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda" {
  for_each = var.alarms_enabled ? local.lambda_alarms : {}

  alarm_name          = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  alarm_description   = each.value.description
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = each.value.function_name }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}
