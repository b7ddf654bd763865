variable "function_name" {
  description = "Name of the Lambda function; also names its role and its log group (/aws/lambda/<name>)."
  type        = string
}

variable "description" {
  description = "Description of the function."
  type        = string
  default     = ""
}

variable "package_type" {
  description = "Deployment package type: \"Zip\" (filename + handler + runtime) or \"Image\" (image_uri)."
  type        = string
  default     = "Zip"

  validation {
    condition     = contains(["Zip", "Image"], var.package_type)
    error_message = "package_type must be \"Zip\" or \"Image\"."
  }
}

variable "filename" {
  description = "Path of the deployment zip (package_type Zip); its SHA-256 (filebase64sha256) triggers code updates."
  type        = string
  default     = null
}

variable "handler" {
  description = "Handler (module.function) for package_type Zip, e.g. media_process.handler.handler."
  type        = string
  default     = null
}

variable "runtime" {
  description = "Lambda runtime for package_type Zip."
  type        = string
  default     = "python3.12"
}

variable "image_uri" {
  description = "ECR image URI (preferably pinned by digest) for package_type Image."
  type        = string
  default     = null
}

variable "image_command" {
  description = "Overrides the image CMD (the handler) for package_type Image; null keeps the image's."
  type        = list(string)
  default     = null
}

variable "architectures" {
  description = "Instruction set architecture: [\"arm64\"] or [\"x86_64\"]; must match the built artifact."
  type        = list(string)
  default     = ["arm64"]

  validation {
    condition     = length(var.architectures) == 1 && contains(["arm64", "x86_64"], var.architectures[0])
    error_message = "architectures must be [\"arm64\"] or [\"x86_64\"]."
  }
}

variable "memory_size" {
  description = "Memory in MB (CPU scales with it)."
  type        = number
  default     = 512
}

variable "timeout" {
  description = "Timeout in seconds (1-900)."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "ephemeral_storage_size" {
  description = "Size of /tmp in MB (512-10240)."
  type        = number
  default     = 512

  validation {
    condition     = var.ephemeral_storage_size >= 512 && var.ephemeral_storage_size <= 10240
    error_message = "ephemeral_storage_size must be between 512 and 10240 MB."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency; null leaves the function unreserved (account pool), 0 disables it."
  type        = number
  default     = null
}

variable "environment_variables" {
  description = "Environment variables of the function."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Retention of the function's CloudWatch log group, in days."
  type        = number
  default     = 14
}

variable "policy_statements" {
  description = <<-EOT
    Least-privilege IAM statements of the function's inline policy, with exact resource ARNs
    (write to its log group is added by the module). Each: sid (optional), effect (default
    Allow), actions, resources, conditions (optional list of {test, variable, values}).
  EOT
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

variable "async_maximum_retry_attempts" {
  description = "Retries of a failed asynchronous invocation (0-2); null leaves the async invoke config unmanaged (AWS default 2)."
  type        = number
  default     = null
}

variable "async_maximum_event_age_seconds" {
  description = "Maximum age of an asynchronous event before it is discarded (60-21600); null for the AWS default."
  type        = number
  default     = null
}

variable "async_on_failure_destination_arn" {
  description = "SQS queue, SNS topic, Lambda function or EventBridge bus ARN that receives asynchronous invocations that failed for good; the module grants the send permission."
  type        = string
  default     = null
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary of the function's role, if the account requires one."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
