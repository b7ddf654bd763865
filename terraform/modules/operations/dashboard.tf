# One CloudWatch dashboard for a glance: what the functions emit in Embedded Metric Format
# (files, processing, the tail, triage, Gemini tokens, cost) above the metrics the alarms watch
# (dead-letter queue, function errors and throttles, failed executions). The application's
# metric names, dimensions and closed dimension values come from metrics.json, written by
# `python -m media_triage_shared.metrics` (a unit test keeps the two equal), so the dashboard
# never names a metric the code does not emit.

locals {
  catalogue = jsondecode(file("${path.module}/metrics.json"))
  namespace = local.catalogue.namespace
  app       = local.catalogue.metrics
  region    = data.aws_region.current.name

  # [namespace, name, Environment, <env>, Function, <role>] of an application metric
  app_metric = {
    for name, m in local.app : name => [local.namespace, name, "Environment", var.env, "Function", m.function]
  }
  percentiles = ["p50", "p95", "max"]

  app_widgets = [
    {
      title   = "Files by final status (sum)"
      stacked = true
      metrics = [for v in local.app.FilesFinalized.values : concat(local.app_metric.FilesFinalized, [local.app.FilesFinalized.dimensions[2], v, { stat = "Sum", label = v }])]
    },
    {
      title   = "Invalid files by error code (sum)"
      stacked = true
      metrics = [for v in local.app.InvalidFiles.values : concat(local.app_metric.InvalidFiles, [local.app.InvalidFiles.dimensions[2], v, { stat = "Sum", label = v }])]
    },
    {
      title   = "Processing ms per file, by kind (p50, p95)"
      stacked = false
      metrics = [for p in setproduct(["photo", "video"], ["p50", "p95"]) : concat(local.app_metric.ProcessingTime, [local.app.ProcessingTime.dimensions[2], p[0], { stat = p[1], label = "${p[0]} ${p[1]}" }])]
    },
    {
      title   = "Tail: last file processed -> verdicts written (ms)"
      stacked = false
      metrics = [for stat in local.percentiles : concat(local.app_metric.Tail, [{ stat = stat, label = "tail ${stat}" }])]
    },
    {
      title   = "Triage and whole-job time (ms)"
      stacked = false
      metrics = [for p in setproduct(["TriageTime", "JobTime"], ["p50", "p95"]) : concat(local.app_metric[p[0]], [{ stat = p[1], label = "${p[0]} ${p[1]}" }])]
    },
    {
      title   = "Jobs completed, partial, files not evaluated (sum)"
      stacked = false
      metrics = [for name in ["JobsCompleted", "PartialJobs", "NotEvaluatedFiles"] : concat(local.app_metric[name], [{ stat = "Sum", label = name }])]
    },
    {
      title   = "Gemini tokens (sum)"
      stacked = true
      metrics = [for name in ["GeminiInputTokens", "GeminiOutputTokens"] : concat(local.app_metric[name], [{ stat = "Sum", label = name }])]
    },
    {
      title   = "Cost per job (USD: average, max) and in all (sum)"
      stacked = false
      metrics = [for stat in ["Average", "Maximum", "Sum"] : concat(local.app_metric.JobCostUSD, [{ stat = stat, label = "JobCostUSD ${stat}" }])]
    },
  ]

  aws_widgets = [
    {
      title   = "Dead-letter queue depth (max)"
      stacked = false
      metrics = [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.this.name, { stat = "Maximum", label = "messages" }]]
    },
    {
      title   = "Function errors (sum)"
      stacked = false
      metrics = [for role, fn in var.function_names : ["AWS/Lambda", "Errors", "FunctionName", fn, { stat = "Sum", label = role }]]
    },
    {
      title   = "Function throttles (sum)"
      stacked = false
      metrics = [for role, fn in var.function_names : ["AWS/Lambda", "Throttles", "FunctionName", fn, { stat = "Sum", label = role }]]
    },
    {
      title   = "Triage executions failed, timed out (sum)"
      stacked = false
      metrics = [for name in ["ExecutionsFailed", "ExecutionsTimedOut"] : ["AWS/States", name, "StateMachineArn", var.state_machine_arn, { stat = "Sum", label = name }]]
    },
  ]

  # Three 8x6 graphs a row: the application's metrics first, then the alarms' metrics.
  widgets = [
    for i, w in concat(local.app_widgets, local.aws_widgets) : {
      type   = "metric"
      x      = (i % 3) * 8
      y      = floor(i / 3) * 6
      width  = 8
      height = 6
      properties = {
        title   = w.title
        region  = local.region
        view    = "timeSeries"
        stacked = w.stacked
        period  = var.dashboard_period_seconds
        metrics = w.metrics
      }
    }
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${var.name_prefix}-operations"
  dashboard_body = jsonencode({ widgets = local.widgets })
}

# The last resort of ADR 0012 finalised a file `internal`: a bug or a persistent outage beat
# every retry. The file is counted (its batch goes on) but a user lost a file: worth a look.
resource "aws_cloudwatch_metric_alarm" "files_internal" {
  count = var.alarms_enabled ? 1 : 0

  alarm_name          = "${var.name_prefix}-media-process-internal-files"
  alarm_description   = "MediaProcess gave up on files (invalid, code internal): an unexpected error on the last attempt (ADR 0012). The original is kept; the media.internal_error log line (same job_id/file_id) has the traceback. See docs/runbook.md."
  namespace           = local.namespace
  metric_name         = "InvalidFiles"
  dimensions          = { Environment = var.env, Function = local.app.InvalidFiles.function, ErrorCode = "internal" }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}
