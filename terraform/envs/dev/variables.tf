variable "region" {
  description = "AWS region of the environment."
  type        = string
}

variable "allowed_account_ids" {
  description = "Account IDs this root may deploy to (guards against the wrong credentials); null allows any."
  type        = list(string)
  default     = null
}

variable "cors_allowed_origins" {
  description = "Origins of the web page."
  type        = list(string)
}

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "INFO"
}

variable "media_process_image_uri" {
  description = "media-process container image (static ffmpeg), pinned by digest; null deploys build/media_process.zip."
  type        = string
  default     = null
}

variable "gemini_api_key_parameter" {
  description = "SSM SecureString parameter name holding the Gemini API key; null runs the local analyzer."
  type        = string
  default     = null
}

variable "gemini_model" {
  description = "Gemini model used by triage-run."
  type        = string
  default     = "gemini-2.5-flash"
}
