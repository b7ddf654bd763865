variable "name" {
  description = "Name of the state machine; also names its role and its log group (/aws/vendedlogs/states/<name>)."
  type        = string
}

variable "definition_template_path" {
  description = "Path of the ASL JSON template, rendered with templatefile(definition_template_path, definition_variables)."
  type        = string
}

variable "definition_variables" {
  description = "Values of the template's placeholders (e.g. sessions_table, triage_run_function_arn, poll_interval_seconds)."
  type        = map(string)
  default     = {}
}

variable "timeout_seconds" {
  description = "Execution timeout (a backstop): replaces the template's top-level TimeoutSeconds; null keeps the template's."
  type        = number
  default     = 3600

  validation {
    # Short timeouts are for tests of what happens after one (successor executions).
    condition     = var.timeout_seconds == null ? true : var.timeout_seconds >= 10 && var.timeout_seconds <= 31536000
    error_message = "timeout_seconds must be between 10 and 31536000 (one year), or null."
  }
}

variable "dynamodb_table_arns" {
  description = "Exact ARNs of the tables the definition reads and updates (dynamodb:GetItem and dynamodb:UpdateItem only)."
  type        = list(string)
  default     = []
}

variable "lambda_function_arns" {
  description = "Exact (unqualified) ARNs of the functions the definition invokes; versions and aliases of them are allowed too."
  type        = list(string)
  default     = []
}

variable "policy_statements" {
  description = "Further least-privilege statements the definition needs (e.g. KMS for encrypted tables): sid (optional), effect (default Allow), actions, resources, conditions (optional list of {test, variable, values})."
  type = list(object({
    sid       = optional(string)
    effect    = optional(string, "Allow")
    actions   = list(string)
    resources = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
  default = []

  validation {
    condition = alltrue([
      for s in var.policy_statements : alltrue([for a in s.actions : !strcontains(a, "*")])
    ])
    error_message = "policy_statements must name exact actions (no wildcards)."
  }
}

variable "log_level" {
  description = "Execution logging level: ALL, ERROR, FATAL or OFF."
  type        = string
  default     = "ERROR"

  validation {
    condition     = contains(["ALL", "ERROR", "FATAL", "OFF"], var.log_level)
    error_message = "log_level must be ALL, ERROR, FATAL or OFF."
  }
}

variable "include_execution_data" {
  description = "Log execution input/output (may contain user file names; off by default)."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention of the state machine's CloudWatch log group, in days."
  type        = number
  default     = 14
}

variable "tracing_enabled" {
  description = "Enable AWS X-Ray tracing of executions (grants the X-Ray write actions)."
  type        = bool
  default     = false
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary of the state machine's role, if the account requires one."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
