output "bucket_name" {
  description = "Name of the media bucket."
  value       = module.storage.bucket_name

  precondition {
    # The functions' environment and the ASL use names computed in main.tf.
    condition = alltrue([
      module.storage.bucket_name == local.names.bucket,
      module.storage.sessions_table_name == local.names.sessions_table,
      module.storage.files_table_name == local.names.files_table,
    ])
    error_message = "A resource name computed for the environment variables differs from the created one."
  }
}

output "bucket_arn" {
  description = "ARN of the media bucket."
  value       = module.storage.bucket_arn

  precondition {
    # IAM statements use ARNs computed from names (iam.tf); they must be the real ones.
    condition     = module.storage.bucket_arn == local.arn.bucket
    error_message = "The bucket ARN computed for the IAM policies differs from the created one."
  }
}

output "sessions_table_name" {
  description = "Name of the sessions table."
  value       = module.storage.sessions_table_name
}

output "sessions_table_arn" {
  description = "ARN of the sessions table."
  value       = module.storage.sessions_table_arn

  precondition {
    # IAM statements use ARNs computed from names (iam.tf); they must be the real ones.
    condition     = module.storage.sessions_table_arn == local.arn.sessions_table
    error_message = "The sessions table ARN computed for the IAM policies differs from the created one."
  }
}

output "files_table_name" {
  description = "Name of the media-file-processing table."
  value       = module.storage.files_table_name
}

output "files_table_arn" {
  description = "ARN of the media-file-processing table."
  value       = module.storage.files_table_arn

  precondition {
    # IAM statements use ARNs computed from names (iam.tf); they must be the real ones.
    condition     = module.storage.files_table_arn == local.arn.files_table
    error_message = "The files table ARN computed for the IAM policies differs from the created one."
  }
}

output "state_machine_arn" {
  description = "ARN of the triage state machine."
  value       = module.state_machine.state_machine_arn

  precondition {
    # IAM statements use ARNs computed from names (iam.tf); they must be the real ones.
    condition     = module.state_machine.state_machine_arn == local.arn.state_machine
    error_message = "The state machine ARN computed for the IAM policies differs from the created one."
  }

  precondition {
    # Standard workflows stop at 25,000 history events; one loop (Poll, Evaluate, WaitForFiles) writes about 13.
    condition     = var.execution_timeout_seconds / var.poll_interval_seconds * 13 < 25000
    error_message = "execution_timeout_seconds / poll_interval_seconds is too large: the poll loop would exceed the 25,000-event execution history before the timeout."
  }
}

output "state_machine_name" {
  description = "Name of the triage state machine."
  value       = module.state_machine.state_machine_name
}

output "function_names" {
  description = "Function names by role: media_process, init_session, triage_run."
  value = {
    media_process = module.media_process.function_name
    init_session  = module.init_session.function_name
    triage_run    = module.triage_run.function_name
  }
}

output "function_arns" {
  description = "Function ARNs by role: media_process, init_session, triage_run."
  value = {
    media_process = module.media_process.function_arn
    init_session  = module.init_session.function_arn
    triage_run    = module.triage_run.function_arn
  }

  precondition {
    # IAM statements use ARNs computed from names (iam.tf); they must be the real ones.
    condition     = module.triage_run.function_arn == local.arn.triage_run
    error_message = "The triage-run function ARN computed for the IAM policies differs from the created one."
  }
}

output "role_arns" {
  description = "Execution role ARNs by role: media_process, init_session, triage_run, state_machine."
  value = {
    media_process = module.media_process.role_arn
    init_session  = module.init_session.role_arn
    triage_run    = module.triage_run.role_arn
    state_machine = module.state_machine.role_arn
  }
}

output "api_id" {
  description = "ID of the HTTP API."
  value       = module.http_api.api_id
}

output "api_endpoint" {
  description = "Default endpoint of the HTTP API (real AWS)."
  value       = module.http_api.api_endpoint
}

output "api_execution_arn" {
  description = "Execution ARN of the HTTP API."
  value       = module.http_api.api_execution_arn
}

output "dlq_url" {
  description = "URL of media-process's dead-letter queue (devtools/redrive_dlq.py --queue-url)."
  value       = module.operations.dlq_url
}

output "dlq_arn" {
  description = "ARN of media-process's dead-letter queue."
  value       = module.operations.dlq_arn
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms (empty when alarms_enabled is false)."
  value       = module.operations.alarm_names
}

output "dashboard_name" {
  description = "Name of the CloudWatch operations dashboard (the functions' EMF metrics, the alarms' metrics)."
  value       = module.operations.dashboard_name
}

output "dashboard_url" {
  description = "The operations dashboard in the CloudWatch console."
  value       = module.operations.dashboard_url
}

output "web_url" {
  description = "URL of the web page (https://<distribution domain>/; on the emulator http://localhost:<port>/_aws/site/<bucket>/)."
  value       = module.web.web_url

  precondition {
    condition     = var.web_cdn_enabled || var.emulator_endpoint != null
    error_message = "web_cdn_enabled = false needs emulator_endpoint (the emulator serves the page)."
  }
}

output "web_origin" {
  description = "Origin of the web page (scheme://host[:port]), allowed by the media bucket's CORS."
  value       = module.web.web_origin
}

output "web_bucket_name" {
  description = "Name of the web page's bucket."
  value       = module.web.bucket_name
}

output "web_distribution_id" {
  description = "ID of the page's CloudFront distribution (null on the emulator)."
  value       = module.web.distribution_id
}

output "web_distribution_domain_name" {
  description = "Domain name of the page's CloudFront distribution (null on the emulator)."
  value       = module.web.distribution_domain_name
}
