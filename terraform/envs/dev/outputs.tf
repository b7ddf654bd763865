output "web_url" {
  description = "The web page: https://<distribution domain>/ (CloudFront; /api/* goes to the HTTP API)."
  value       = module.media_triage.web_url
}

output "web_bucket_name" {
  description = "Name of the web page's bucket."
  value       = module.media_triage.web_bucket_name
}

output "web_distribution_id" {
  description = "ID of the page's CloudFront distribution."
  value       = module.media_triage.web_distribution_id
}

output "api_endpoint" {
  description = "Base URL of the HTTP API."
  value       = module.media_triage.api_endpoint
}

output "api_id" {
  description = "ID of the HTTP API."
  value       = module.media_triage.api_id
}

output "bucket_name" {
  description = "Name of the media bucket."
  value       = module.media_triage.bucket_name
}

output "sessions_table_name" {
  description = "Name of the sessions table."
  value       = module.media_triage.sessions_table_name
}

output "files_table_name" {
  description = "Name of the media-file-processing table."
  value       = module.media_triage.files_table_name
}

output "state_machine_arn" {
  description = "ARN of the triage state machine."
  value       = module.media_triage.state_machine_arn
}

output "function_names" {
  description = "Function names by role: media_process, init_session, triage_run."
  value       = module.media_triage.function_names
}

output "dlq_url" {
  description = "URL of media-process's dead-letter queue (devtools/redrive_dlq.py --queue-url)."
  value       = module.media_triage.dlq_url
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms."
  value       = module.media_triage.alarm_names
}

output "dashboard_url" {
  description = "The operations dashboard in the CloudWatch console."
  value       = module.media_triage.dashboard_url
}
