# ----------------------------------------------------------------------------- account

variable "region" {
  description = "AWS region of the environment."
  type        = string
}

variable "allowed_account_ids" {
  description = "Account IDs this root may deploy to (guards against the wrong credentials); null allows any."
  type        = list(string)
  default     = null
}

# ----------------------------------------------------------------------------- artifacts

variable "artifacts_dir" {
  description = "Directory of the Lambda zips (make build ENV=<env>: init_session.zip, triage_run.zip); null means the repository's build/."
  type        = string
  default     = null
}

variable "media_process_image_uri" {
  description = "media-process container image (make image IMAGE_REPO=<ECR repository>), pinned by digest: <account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<digest>."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$", var.media_process_image_uri))
    error_message = "media_process_image_uri must be an ECR image pinned by digest (<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex>), never a tag: a tag can move under a deployed function."
  }
}

variable "lambda_architecture" {
  description = "Architecture of every function: must match the zips (build_zips.py --arch) and the image (make image ARCH=...)."
  type        = string
  default     = "arm64"
}

# ----------------------------------------------------------------------------- settings

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "INFO"
}

variable "log_retention_days" {
  description = "Retention of every log group, in days."
  type        = number
}

variable "api_throttling_burst_limit" {
  description = "Burst limit of the HTTP API's $default stage."
  type        = number
  default     = 200
}

variable "api_throttling_rate_limit" {
  description = "Steady-state requests per second of the HTTP API's $default stage."
  type        = number
  default     = 100
}

# ----------------------------------------------------------------------------- functions

variable "media_process_memory_mb" {
  description = "Memory of media-process in MB (1-4 GB). CPU scales with it: 2048 is the size make bench-media's trade table chooses (docs/adr/0018-memory-sizes-from-measurement.md); more shortens video at a price paid on every photo."
  type        = number
  default     = 2048

  validation {
    condition     = var.media_process_memory_mb >= 1024 && var.media_process_memory_mb <= 4096
    error_message = "media_process_memory_mb must be between 1024 and 4096."
  }
}

variable "media_process_timeout_seconds" {
  description = "Timeout of media-process; its processing deadline is 60 s less (a clean fallback before Lambda kills it)."
  type        = number
  default     = 300

  validation {
    condition     = var.media_process_timeout_seconds >= 120 && var.media_process_timeout_seconds <= 900
    error_message = "media_process_timeout_seconds must be between 120 and 900."
  }
}

variable "media_process_ephemeral_storage_mb" {
  description = "/tmp of media-process in MB (videos are streamed; only the proxy and thumbnails are written)."
  type        = number
  default     = 2048
}

variable "media_process_reserved_concurrency" {
  description = "Reserved concurrency of media-process (caps the S3-triggered fan-out; throttled events are retried by Lambda); null leaves it unreserved."
  type        = number
  default     = null
}

variable "init_session_reserved_concurrency" {
  description = "Reserved concurrency of init-session (the API); null leaves it unreserved."
  type        = number
  default     = null
}

variable "triage_run_reserved_concurrency" {
  description = "Reserved concurrency of triage-run (one invocation per job at a time); null leaves it unreserved."
  type        = number
  default     = null
}

variable "triage_analyzer" {
  description = "Analyzer of triage-run: \"gemini\", \"local\" (the offline fallback, e.g. during a Gemini outage) or null (gemini when a key parameter is set)."
  type        = string
  default     = null
}

variable "gemini_api_key_parameter" {
  description = "NAME of the SSM SecureString parameter holding the Gemini API key (the key itself is never in Terraform, its state or any env file); null runs the local analyzer."
  type        = string
  default     = null
}

variable "gemini_model" {
  description = "Gemini model used by triage-run."
  type        = string
  default     = "gemini-2.5-flash"
}

# ----------------------------------------------------------------------------- abuse limits (ADR 0014)

variable "allowed_models" {
  description = "Models an init may pick besides gemini_model (always allowed); anything else is a 400."
  type        = list(string)
  default     = ["gemini-2.5-flash-lite"]
}

variable "rate_limit_per_minute" {
  description = "New executions (inits and retries) per client per minute (token bucket in the sessions table; a client is a source IP, an IPv6 /64, or the JWT identity)."
  type        = number
  default     = 10
}

variable "rate_limit_burst" {
  description = "Bucket size of rate_limit_per_minute: inits a client may make at once."
  type        = number
  default     = 20
}

variable "max_open_jobs_per_client" {
  description = "Non-final jobs one client may hold at once (409 too_many_open_jobs beyond)."
  type        = number
  default     = 20
}

variable "token_secret_generation" {
  description = "Generation of the server secret of session tokens and idempotency keys; increment to rotate (docs/runbook.md)."
  type        = number
  default     = 0
}

variable "token_secret_keep_previous" {
  description = "Keep accepting the previous generation's secret (the grace period, at least one session TTL); false revokes everything made with it."
  type        = bool
  default     = true
}

# ----------------------------------------------------------------------------- alarms

variable "alarm_sns_topic_arn" {
  description = "Existing SNS topic the CloudWatch alarms notify; null creates the alarms without actions."
  type        = string
  default     = null
}

variable "alarm_state_machine_failed_threshold" {
  description = "Failed triage executions tolerated per 5 minutes before the alarm (abandoned sessions end Failed too)."
  type        = number
  default     = 0
}

# ----------------------------------------------------------------------------- web page

variable "web_site_dir" {
  description = "Directory of the built page (make web); null means artifacts_dir/web (the repository's build/web)."
  type        = string
  default     = null
}

variable "extra_web_origins" {
  description = "Origins of the page besides the distribution's https://<id>.cloudfront.net (e.g. a developer's page server calling the API cross-origin), allowed by the media bucket's and the API's CORS; never \"*\"."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.extra_web_origins : can(regex("^https?://[^*/]+$", o))])
    error_message = "extra_web_origins must list explicit origins (scheme://host[:port]), no wildcard and no path."
  }
}

variable "web_price_class" {
  description = "CloudFront price class of the page's distribution (PriceClass_100, PriceClass_200, PriceClass_All)."
  type        = string
  default     = "PriceClass_100"
}

variable "web_acl_arn" {
  description = "ARN of an existing WAFv2 web ACL (scope CLOUDFRONT, in us-east-1) for the page's distribution; null attaches none."
  type        = string
  default     = null
}

variable "web_access_log_bucket" {
  description = "Existing S3 bucket (ACLs enabled) for the distribution's standard access logs; null logs nothing."
  type        = string
  default     = null
}
