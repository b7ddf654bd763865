variable "endpoint" {
  description = "URL of the local AWS emulator (LocalStack conventions)."
  type        = string
  default     = "http://127.0.0.1:4566"
}

variable "artifacts_dir" {
  description = "Directory of the built zips (make build ENV=local); null means the repository's build/."
  type        = string
  default     = null
}

variable "lambda_architectures" {
  description = "Architecture recorded on the functions (the emulator runs the zips on the host's interpreter)."
  type        = list(string)
  default     = ["x86_64"]
}

variable "cors_allowed_origins" {
  description = "Origins of a locally served page."
  type        = list(string)
}

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "INFO"
}

variable "stall_timeout_seconds" {
  description = "No progress for this long -> triage what arrived (or fail)."
  type        = number
  default     = 600
}

variable "triage_analyzer" {
  description = "Analyzer of triage-run: \"local\" (offline, default here) or \"gemini\"."
  type        = string
  default     = "local"
}

variable "object_expiration_days" {
  description = <<-EOT
    Lifecycle expiry of the media bucket. null (the default here) leaves the lifecycle rule out:
    moto never expires objects, and the AWS provider waits about 55 s after writing a lifecycle
    configuration for it to settle, which would double every local apply. dev and prod keep the
    module's 1-day rule; the plan tests set this to 1 to check the rule.
  EOT
  type        = number
  default     = null
}
