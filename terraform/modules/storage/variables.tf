variable "bucket_name" {
  description = "Name of the media bucket (originals under uploads/, derived media under derived/)."
  type        = string
}

variable "sessions_table_name" {
  description = "Name of the sessions DynamoDB table (job rows: pk SESSION#<sessionId>, sk JOB#<jobId>)."
  type        = string
}

variable "files_table_name" {
  description = "Name of the media-file-processing DynamoDB table (file rows: pk JOB#<jobId>, sk FILE#<fileId>)."
  type        = string
}

variable "object_expiration_days" {
  description = "Every object in the bucket expires this many days after creation (sessions are short-lived); null: no lifecycle configuration (emulator only)."
  type        = number
  default     = 1

  validation {
    condition     = var.object_expiration_days == null ? true : var.object_expiration_days >= 1 && floor(var.object_expiration_days) == var.object_expiration_days
    error_message = "object_expiration_days must be a whole number of days, at least 1."
  }
}

variable "kms_key_arn" {
  description = "KMS key ARN for bucket SSE-KMS; null uses SSE-S3 (AES256)."
  type        = string
  default     = null
}

variable "cors_allowed_origins" {
  description = "Browser origins allowed to upload to the bucket with presigned POST/PUT (and read presigned GETs)."
  type        = list(string)
}

variable "cors_max_age_seconds" {
  description = "How long browsers may cache the bucket's CORS preflight response."
  type        = number
  default     = 3600
}

variable "force_destroy" {
  description = "Allow terraform destroy to delete a non-empty bucket (local/dev only)."
  type        = bool
  default     = false
}

variable "notification_function_arn" {
  description = "ARN of the Lambda function invoked for every ObjectCreated event under notification_filter_prefix (media-process)."
  type        = string
}

variable "notification_filter_prefix" {
  description = "Only keys under this prefix invoke the notification function (never the derived/ prefix: no recursive triggers)."
  type        = string
  default     = "uploads/"

  validation {
    condition     = length(var.notification_filter_prefix) > 0 && endswith(var.notification_filter_prefix, "/")
    error_message = "notification_filter_prefix must be a non-empty folder prefix ending in '/'."
  }
}

variable "point_in_time_recovery_enabled" {
  description = "Enable DynamoDB point-in-time recovery on both tables."
  type        = bool
  default     = true
}

variable "deletion_protection_enabled" {
  description = "Enable DynamoDB deletion protection on both tables."
  type        = bool
  default     = false
}

variable "table_kms_key_arn" {
  description = "Customer-managed KMS key ARN for DynamoDB SSE; null uses the AWS-managed key (alias/aws/dynamodb)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
