# ----------------------------------------------------------------------------- identity

variable "project" {
  description = "Project name, the first part of every resource name (\"<project>-<env>-<thing>\")."
  type        = string
  default     = "media-triage"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.project))
    error_message = "project must be 2-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "env" {
  description = "Environment name (local, dev, prod, ...), the second part of every resource name; also APP_ENV of the functions."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.env))
    error_message = "env must be 2-16 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Tags applied to every resource (Project and Environment are added)."
  type        = map(string)
  default     = {}
}

# ----------------------------------------------------------------------------- artifacts

variable "artifacts_dir" {
  description = "Directory holding the built zips media_process.zip, init_session.zip and triage_run.zip."
  type        = string
}

variable "media_process_image_uri" {
  description = "ECR image (with a static ffmpeg) for media-process, pinned by digest; null deploys artifacts_dir/media_process.zip."
  type        = string
  default     = null
}

variable "lambda_architectures" {
  description = "Architecture of every function; must match the artifacts (devtools/build_zips.py --arch)."
  type        = list(string)
  default     = ["arm64"]
}

variable "state_machine_definition_path" {
  description = "Path of the ASL template (statemachine/triage.asl.json); null uses the repository's copy."
  type        = string
  default     = null
}

# ----------------------------------------------------------------------------- shared settings

variable "log_level" {
  description = "LOG_LEVEL of every function: DEBUG, INFO, WARNING or ERROR."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "log_retention_days" {
  description = "Retention of every log group (functions, state machine, API access logs), in days."
  type        = number
  default     = 14
}

variable "file_ttl_hours" {
  description = "TTL of session and file rows (FILE_TTL_HOURS of every function)."
  type        = number
  default     = 24
}

variable "stall_timeout_seconds" {
  description = "No progress for this long -> triage what arrived, or fail if nothing did (STALL_TIMEOUT_SECONDS; pushes stallDeadline)."
  type        = number
  default     = 600

  validation {
    condition     = var.stall_timeout_seconds >= 10
    error_message = "stall_timeout_seconds must be at least 10."
  }
}

# ----------------------------------------------------------------------------- storage

variable "object_expiration_days" {
  description = "Every object in the media bucket expires after this many days (null: no lifecycle rule; only for the emulator)."
  type        = number
  default     = 1
}

variable "bucket_kms_key_arn" {
  description = "KMS key ARN for the bucket's SSE-KMS; null uses SSE-S3 (AES256)."
  type        = string
  default     = null
}

variable "table_kms_key_arn" {
  description = "Customer-managed KMS key ARN for the tables; null uses the AWS-managed DynamoDB key."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let terraform destroy delete a non-empty media bucket (local/dev)."
  type        = bool
  default     = false
}

variable "point_in_time_recovery_enabled" {
  description = "DynamoDB point-in-time recovery on both tables."
  type        = bool
  default     = true
}

variable "deletion_protection_enabled" {
  description = "DynamoDB deletion protection on both tables."
  type        = bool
  default     = false
}

# ----------------------------------------------------------------------------- media-process

variable "media_process" {
  description = <<-EOT
    media-process sizing and behaviour: memory_size (MB; 2048 is the size make bench-media's
    memory trade chooses, docs/adr/0018-memory-sizes-from-measurement.md), timeout (s), ephemeral_storage_size
    (MB), reserved_concurrent_executions (null = unreserved), processing_deadline_seconds (must
    stay below timeout), async_maximum_retry_attempts (0-2: Lambda's retries of a failed S3
    event before it goes to the dead-letter queue) and async_maximum_event_age_seconds (null =
    AWS default, 6 h; throttled events are retried that long), max_photo_bytes and
    max_video_bytes (larger files end invalid, too_large; the page shows them before upload).
  EOT
  type = object({
    memory_size                     = optional(number, 2048)
    timeout                         = optional(number, 300)
    ephemeral_storage_size          = optional(number, 2048)
    reserved_concurrent_executions  = optional(number)
    processing_deadline_seconds     = optional(number, 240)
    async_maximum_retry_attempts    = optional(number, 2)
    async_maximum_event_age_seconds = optional(number)
    max_photo_bytes                 = optional(number, 104857600)
    max_video_bytes                 = optional(number, 5368709120)
  })
  default = {}

  validation {
    condition     = var.media_process.async_maximum_retry_attempts >= 0 && var.media_process.async_maximum_retry_attempts <= 2
    error_message = "media_process.async_maximum_retry_attempts must be 0, 1 or 2 (the Lambda limit)."
  }

  validation {
    condition     = var.media_process.processing_deadline_seconds < var.media_process.timeout
    error_message = "media_process.processing_deadline_seconds must stay below media_process.timeout (a clean fallback before Lambda kills the invocation)."
  }
}

# ----------------------------------------------------------------------------- init-session

variable "init_session" {
  description = <<-EOT
    init-session (the HTTP API handler) sizing and behaviour: memory_size (MB), timeout (s, below
    the API's 30 s), reserved_concurrent_executions (null = unreserved) and
    multipart_threshold_bytes (files above it get a multipart plan) and max_file_bytes (init
    refuses larger files; the page checks it before upload). Abuse limits (ADR 0014):
    allowed_models (models a request may pick besides triage_run.gemini_model, which is
    always allowed), rate_limit_per_minute and rate_limit_burst (each client's token bucket
    of new executions: inits and retries; a client is a source IP, an IPv6 /64, or the JWT
    identity behind the authorizer) and max_open_jobs_per_client (non-final jobs at once).
  EOT
  type = object({
    memory_size                    = optional(number, 512)
    timeout                        = optional(number, 28)
    reserved_concurrent_executions = optional(number)
    multipart_threshold_bytes      = optional(number, 104857600)
    max_file_bytes                 = optional(number, 5368709120)
    allowed_models                 = optional(list(string), ["gemini-2.5-flash-lite"])
    rate_limit_per_minute          = optional(number, 10)
    rate_limit_burst               = optional(number, 20)
    max_open_jobs_per_client       = optional(number, 20)
  })
  default = {}

  validation {
    condition     = var.init_session.rate_limit_per_minute > 0 && var.init_session.rate_limit_burst >= 1 && floor(var.init_session.rate_limit_burst) == var.init_session.rate_limit_burst
    error_message = "init_session.rate_limit_per_minute must be positive and rate_limit_burst a whole number >= 1."
  }

  validation {
    condition     = var.init_session.max_open_jobs_per_client >= 1 && floor(var.init_session.max_open_jobs_per_client) == var.init_session.max_open_jobs_per_client
    error_message = "init_session.max_open_jobs_per_client must be a whole number >= 1."
  }

  validation {
    condition     = alltrue([for m in var.init_session.allowed_models : can(regex("^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$", m))])
    error_message = "init_session.allowed_models must list model names (what the API's model field accepts)."
  }

  validation {
    condition     = var.init_session.timeout <= 29
    error_message = "init_session.timeout must be at most 29 s (the HTTP API integration limit is 30 s)."
  }

  validation {
    condition     = var.init_session.multipart_threshold_bytes >= 5242880
    error_message = "init_session.multipart_threshold_bytes must be at least 5 MiB (the S3 minimum part size)."
  }
}

variable "token_secret" {
  description = <<-EOT
    The server secret that session tokens and idempotency-key hashes are bound to (ADR 0014):
    SSM SecureStrings "/<project>/<env>/token-secret/g<generation>", generated by Terraform.
    Rotate by incrementing generation (docs/runbook.md): a new secret becomes current and the
    previous generation stays accepted (keep_previous) until the next rotation; false drops it
    at once (every session made before the rotation stops working). kms_key_arn: a
    customer-managed key for the parameters (null = aws/ssm).
  EOT
  type = object({
    generation    = optional(number, 0)
    keep_previous = optional(bool, true)
    kms_key_arn   = optional(string)
  })
  default = {}

  validation {
    condition     = var.token_secret.generation >= 0 && floor(var.token_secret.generation) == var.token_secret.generation
    error_message = "token_secret.generation must be a whole number >= 0."
  }
}

# ----------------------------------------------------------------------------- triage-run

variable "triage_run" {
  description = <<-EOT
    triage-run sizing and analyzer: memory_size (MB), timeout (s), reserved_concurrent_executions
    (null = unreserved), analyzer ("local", "gemini" or null to decide by the key),
    gemini_model, gemini_api_key_parameter (SSM parameter name holding the key, null = none),
    gemini_api_key_kms_key_arn (customer-managed key of that SecureString, null = aws/ssm),
    gemini_media ("url": presigned URLs, the default; "inline": photo bytes in the request, for
    buckets Google cannot reach such as the emulator's) and gemini_base_url (another endpoint
    for the Gemini API, e.g. a fake one in tests; null = Google's).
  EOT
  type = object({
    memory_size                    = optional(number, 1024)
    timeout                        = optional(number, 600)
    reserved_concurrent_executions = optional(number)
    analyzer                       = optional(string)
    gemini_model                   = optional(string, "gemini-2.5-flash")
    gemini_api_key_parameter       = optional(string)
    gemini_api_key_kms_key_arn     = optional(string)
    gemini_media                   = optional(string)
    gemini_base_url                = optional(string)
  })
  default = {}

  validation {
    condition     = var.triage_run.analyzer == null ? true : contains(["local", "gemini"], var.triage_run.analyzer)
    error_message = "triage_run.analyzer must be \"local\", \"gemini\" or null."
  }

  validation {
    condition     = var.triage_run.gemini_media == null ? true : contains(["url", "inline"], var.triage_run.gemini_media)
    error_message = "triage_run.gemini_media must be \"url\", \"inline\" or null."
  }
}

variable "managed_gemini_api_key" {
  description = <<-EOT
    Throwaway stacks only (envs/local): a Gemini key that Terraform stores as the SSM
    SecureString "/<project>/<env>/gemini-api-key" for triage-run (it overrides
    triage_run.gemini_api_key_parameter). The value lands in Terraform state, so real
    environments leave this null and name a parameter made outside Terraform instead.
  EOT
  type        = string
  default     = null
  sensitive   = true
}

# ----------------------------------------------------------------------------- state machine

variable "poll_interval_seconds" {
  description = <<-EOT
    Longest sleep of the state machine between two reads of the job row when nobody wakes it:
    MediaProcess (the count that completes the job) and a PATCH that lowers expectedFileCount
    wake it at once, so this only paces the stall check (and bounds the lag if a wake-up is
    lost). ADR 0007.
  EOT
  type        = number
  default     = 30

  validation {
    condition     = var.poll_interval_seconds >= 1 && var.poll_interval_seconds <= 60 && floor(var.poll_interval_seconds) == var.poll_interval_seconds
    error_message = "poll_interval_seconds must be a whole number from 1 to 60."
  }
}

variable "execution_timeout_seconds" {
  description = "Execution timeout of the state machine, a backstop only (stalls are detected by stallDeadline). A job still receiving files when it passes gets a successor execution <jobId>-r<n> from its next PATCH, upload-target call or ready-making count."
  type        = number
  default     = 3600

  validation {
    condition     = var.execution_timeout_seconds >= 10 && var.execution_timeout_seconds <= 31536000
    error_message = "execution_timeout_seconds must be between 10 and 31536000 (one year)."
  }
}

variable "state_machine_log_level" {
  description = "Execution log level of the state machine: ALL, ERROR, FATAL or OFF."
  type        = string
  default     = "ERROR"
}

variable "state_machine_tracing_enabled" {
  description = "X-Ray tracing of the state machine."
  type        = bool
  default     = false
}

# ----------------------------------------------------------------------------- HTTP API

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

variable "api_jwt_authorizer" {
  description = <<-EOT
    Optional JWT authorizer in front of every route ({issuer, audience, identity_source}); the
    session-token check stays. The session token travels in Authorization, so the JWT comes in
    another header (default X-Identity-Token), which CORS then allows too.
  EOT
  type = object({
    issuer          = string
    audience        = list(string)
    identity_source = optional(string, "$request.header.X-Identity-Token")
  })
  default = null

  validation {
    condition = var.api_jwt_authorizer == null ? true : (
      can(regex("^\\$request\\.header\\.[A-Za-z0-9-]+$", var.api_jwt_authorizer.identity_source))
      && lower(var.api_jwt_authorizer.identity_source) != "$request.header.authorization"
    )
    error_message = "api_jwt_authorizer.identity_source must be \"$request.header.<Name>\" and not Authorization (it carries the session token)."
  }
}

# ----------------------------------------------------------------------------- operations

variable "dlq_message_retention_seconds" {
  description = "Retention of media-process's dead-letter queue (failed S3 events wait there for devtools/redrive_dlq.py)."
  type        = number
  default     = 1209600
}

variable "dlq_kms_key_arn" {
  description = "Customer-managed KMS key of the dead-letter queue; null uses SSE-SQS."
  type        = string
  default     = null
}

variable "alarms_enabled" {
  description = "Create the CloudWatch alarms (dead-letter queue depth, state machine failures and timeouts, every function's errors and throttles)."
  type        = bool
  default     = true
}

variable "alarm_sns_topic_arn" {
  description = "Existing SNS topic the alarms notify (ALARM and OK); null leaves the alarms without actions."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_sns_topic_arn == null ? true : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$", var.alarm_sns_topic_arn))
    error_message = "alarm_sns_topic_arn must be the ARN of an SNS topic (arn:aws:sns:<region>:<account>:<name>)."
  }
}

variable "alarm_period_seconds" {
  description = "Period of every alarm's metric, in seconds."
  type        = number
  default     = 300
}

variable "alarm_state_machine_failed_threshold" {
  description = "Failed triage executions tolerated per alarm period (sessions abandoned before any upload end Failed too)."
  type        = number
  default     = 0
}

# ----------------------------------------------------------------------------- web page

variable "web_site_dir" {
  description = "Directory of the built page (make web); null means artifacts_dir/web."
  type        = string
  default     = null
}

variable "web_cdn_enabled" {
  description = "Serve the page through CloudFront (dev/prod: origin access control, /api/* to the HTTP API on the same distribution); false on the emulator, which serves the bucket itself (emulator_endpoint required)."
  type        = bool
  default     = true
}

variable "emulator_endpoint" {
  description = "URL of the local AWS emulator (envs/local var.endpoint) when web_cdn_enabled is false: the page is served at the same port on localhost, the media bucket's presigned URLs stay on this endpoint."
  type        = string
  default     = null
}

variable "extra_web_origins" {
  description = "Other origins of the page (scheme://host[:port], e.g. a developer's page server calling the API cross-origin) allowed by the media bucket's and the HTTP API's CORS besides the page's own origin."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.extra_web_origins : can(regex("^https?://[^*/]+$", o))])
    error_message = "extra_web_origins must list explicit origins (scheme://host[:port]), no wildcard and no path."
  }
}

variable "web_price_class" {
  description = "CloudFront price class of the page's distribution."
  type        = string
  default     = "PriceClass_100"
}

variable "web_acl_arn" {
  description = "ARN of an existing WAFv2 web ACL (CLOUDFRONT scope) for the page's distribution; null attaches none."
  type        = string
  default     = null
}

variable "web_access_log_bucket" {
  description = "Existing S3 bucket (ACLs enabled) for the distribution's standard access logs; null logs nothing."
  type        = string
  default     = null
}
