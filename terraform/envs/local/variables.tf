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

variable "web_site_dir" {
  description = "Directory of the built page (make web); null means artifacts_dir/web (the repository's build/web)."
  type        = string
  default     = null
}

variable "extra_web_origins" {
  description = "Other origins allowed by the media bucket's and the API's CORS besides the page's own (http://localhost:<port>), e.g. a page dev server."
  type        = list(string)
  default     = []
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

variable "execution_timeout_seconds" {
  description = "Execution timeout of the state machine (tests shorten it to see successor executions start)."
  type        = number
  default     = 3600
}

variable "triage_analyzer" {
  description = "Analyzer of triage-run: \"local\", \"gemini\", or null: Gemini when gemini_api_key is set, else local."
  type        = string
  default     = null
}

variable "gemini_api_key" {
  description = <<-EOT
    A Gemini API key for the local stack (make sets it from GEMINI_API_KEY as
    TF_VAR_gemini_api_key). Non-empty: it is stored in the emulator's SSM as a SecureString and
    triage-run reads it from there, as deployed stacks do; photos go inline (Google cannot fetch
    the emulator's presigned URLs). Empty: the local analyzer.
  EOT
  type        = string
  default     = ""
  sensitive   = true
}

variable "gemini_base_url" {
  description = "Another endpoint for the Gemini API (a fake one in tests); null = Google's."
  type        = string
  default     = null
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

variable "rate_limit_per_minute" {
  description = "New executions per client per minute. Every caller of the local stack is 127.0.0.1, so the default is generous (tests and API fuzzing); tests that exercise the limit lower it."
  type        = number
  default     = 60000
}

variable "rate_limit_burst" {
  description = "Bucket size of rate_limit_per_minute."
  type        = number
  default     = 10000
}

variable "max_open_jobs_per_client" {
  description = "Non-final jobs one client may hold at once (generous here: every caller is 127.0.0.1)."
  type        = number
  default     = 10000
}

variable "token_secret_generation" {
  description = "Generation of the server secret (SSM SecureString in the emulator); increment to rotate."
  type        = number
  default     = 0
}
