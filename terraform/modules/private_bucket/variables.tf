variable "name" {
  description = "Bucket name."
  type        = string
}

variable "force_destroy" {
  description = "Allow terraform destroy to delete a non-empty bucket (local/dev only)."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "KMS key ARN for SSE-KMS (with an S3 bucket key); null uses SSE-S3 (AES256)."
  type        = string
  default     = null
}

variable "object_expiration_days" {
  description = "Every object expires this many days after creation (and incomplete multipart uploads after one); null: no lifecycle configuration."
  type        = number
  default     = null
}

variable "policy_statements" {
  description = "Statements added after the TLS-only deny. resource_suffixes are appended to the bucket's ARN (\"/*\": its objects; \"\": the bucket)."
  type = list(object({
    sid                   = string
    effect                = string
    actions               = list(string)
    resource_suffixes     = list(string)
    principal_type        = string
    principal_identifiers = list(string)
    conditions = list(object({
      test     = string
      variable = string
      values   = list(string)
    }))
  }))
  default = []
}

variable "tags" {
  description = "Tags for the bucket."
  type        = map(string)
  default     = {}
}
