output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = aws_sqs_queue.this.name
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue (computed from its name: known at plan time)."
  value       = local.dlq_arn

  precondition {
    condition     = local.dlq_arn == aws_sqs_queue.this.arn
    error_message = "The computed dead-letter queue ARN differs from the created one."
  }
}

output "dlq_url" {
  description = "URL of the dead-letter queue (devtools/redrive_dlq.py)."
  value       = aws_sqs_queue.this.url
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms."
  value = concat(
    aws_cloudwatch_metric_alarm.dlq_depth[*].alarm_name,
    aws_cloudwatch_metric_alarm.files_internal[*].alarm_name,
    [for a in aws_cloudwatch_metric_alarm.state_machine : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.lambda : a.alarm_name],
  )
}

output "dashboard_name" {
  description = "Name of the operations dashboard (CloudWatch console: Dashboards)."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "dashboard_url" {
  description = "The operations dashboard in the CloudWatch console."
  value       = "https://${data.aws_region.current.name}.console.aws.amazon.com/cloudwatch/home?region=${data.aws_region.current.name}#dashboards/dashboard/${aws_cloudwatch_dashboard.this.dashboard_name}"
}
