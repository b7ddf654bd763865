variable "name_prefix" {
  description = "Prefix of the alarm names (\"<project>-<env>\")."
  type        = string
}

variable "env" {
  description = "Environment name, the Environment dimension of the application's metrics (the functions' APP_ENV)."
  type        = string
}

variable "dashboard_period_seconds" {
  description = "Period of the operations dashboard's graphs."
  type        = number
  default     = 300

  validation {
    condition     = var.dashboard_period_seconds >= 60 && var.dashboard_period_seconds % 60 == 0
    error_message = "dashboard_period_seconds must be a multiple of 60, at least 60."
  }
}

variable "dlq_name" {
  description = "Name of the SQS dead-letter queue that receives failed asynchronous invocations of media-process."
  type        = string
}

variable "dlq_message_retention_seconds" {
  description = "How long a failure record stays in the dead-letter queue (SQS maximum: 14 days)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "dlq_kms_key_arn" {
  description = "Customer-managed KMS key of the dead-letter queue; null uses SSE-SQS (service-managed keys). A customer key also needs kms:GenerateDataKey/Decrypt for the function's role."
  type        = string
  default     = null
}

variable "alarms_enabled" {
  description = "Create the CloudWatch alarms."
  type        = bool
  default     = true
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic notified when an alarm changes to ALARM or back to OK; null creates the alarms without actions. A topic encrypted with a KMS key must let cloudwatch.amazonaws.com use that key."
  type        = string
  default     = null
}

variable "alarm_period_seconds" {
  description = "Period of every alarm's metric (one period over the threshold raises the alarm)."
  type        = number
  default     = 300

  validation {
    condition     = var.alarm_period_seconds >= 60 && var.alarm_period_seconds % 60 == 0
    error_message = "alarm_period_seconds must be a multiple of 60, at least 60."
  }
}

variable "function_names" {
  description = "Functions whose Errors and Throttles are alarmed, by role (media_process, init_session, triage_run)."
  type        = map(string)
}

variable "state_machine_arn" {
  description = "ARN of the triage state machine (ExecutionsFailed and ExecutionsTimedOut alarms)."
  type        = string
}

variable "lambda_errors_threshold" {
  description = "A function alarms when its Errors sum in one period is above this."
  type        = number
  default     = 0
}

variable "lambda_throttles_threshold" {
  description = "A function alarms when its Throttles sum in one period is above this."
  type        = number
  default     = 0
}

variable "state_machine_failed_threshold" {
  description = "The state machine alarms when more executions than this fail in one period (abandoned sessions, with no upload before the stall deadline, end Failed too)."
  type        = number
  default     = 0
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
