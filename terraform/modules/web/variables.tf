# ----------------------------------------------------------------------------- identity

variable "name" {
  description = "Name of the page's bucket (\"<project>-<env>-web\"), also of its origin access control and response headers policy."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.name))
    error_message = "name must be a valid S3 bucket name of lowercase letters, digits and hyphens."
  }
}

variable "env" {
  description = "Environment name, written into config.json (\"env\") for the page to show."
  type        = string
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}

# ----------------------------------------------------------------------------- content

variable "site_dir" {
  description = "Directory of the built page (make web: build/web/): every file under it is uploaded, keyed by its relative path; index.html must exist. config.json and _site/ are Terraform's own and are not taken from it."
  type        = string

  validation {
    condition     = fileexists("${var.site_dir}/index.html")
    error_message = "site_dir has no index.html: build the page first (make web writes build/web/)."
  }
}

variable "site_config" {
  description = <<-EOT
    What config.json tells the page (camelCase there): api_base (prefix of every API path,
    "" when /api/* is served by the page's own origin), the limits the API and media-process
    enforce (max_files per job, max_file_bytes, multipart_threshold_bytes, max_photo_bytes,
    max_video_bytes) and accepted_types (MIME types media-process accepts).
  EOT
  type = object({
    api_base                  = string
    max_files                 = number
    max_file_bytes            = number
    multipart_threshold_bytes = number
    max_photo_bytes           = number
    max_video_bytes           = number
    accepted_types            = list(string)
  })
}

variable "media_origins" {
  description = "Origins of the media bucket's presigned URLs (scheme://host[:port]): the page uploads to and displays from them, so the CSP allows them in connect-src, img-src and media-src."
  type        = list(string)

  validation {
    condition     = length(var.media_origins) > 0 && alltrue([for o in var.media_origins : can(regex("^https?://[^*/ ;]+$", o))])
    error_message = "media_origins must list explicit origins (scheme://host[:port]), no wildcard, path or separator."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy delete the page's bucket with its objects in it (local/dev)."
  type        = bool
  default     = false
}

# ----------------------------------------------------------------------------- serving

variable "cdn_enabled" {
  description = "true (dev/prod): CloudFront serves the bucket (origin access control) and routes /api/* to the HTTP API. false (the local emulator): the emulator serves the bucket at <emulator_origin>/_aws/site/<bucket>/ with the headers of _site/headers.json."
  type        = bool
  default     = true
}

variable "api_endpoint" {
  description = "Base URL of the HTTP API (https://<id>.execute-api.<region>.amazonaws.com): the origin of the /api/* behaviour when cdn_enabled."
  type        = string

  validation {
    condition     = can(regex("^https?://[^/]+/?$", var.api_endpoint))
    error_message = "api_endpoint must be a URL without a path (scheme://host)."
  }
}

variable "emulator_origin" {
  description = "Origin the local emulator serves the page on (http://localhost:<port>) when cdn_enabled is false: another origin than the presigned S3 URLs (http://127.0.0.1:<port>), so browser uploads are cross-origin as in AWS. Unused with cdn_enabled."
  type        = string
  default     = null

  validation {
    condition     = var.emulator_origin == null ? true : can(regex("^http://[^/]+:[0-9]+$", var.emulator_origin))
    error_message = "emulator_origin must be http://<host>:<port> (no trailing slash)."
  }
}

variable "price_class" {
  description = "CloudFront price class of the distribution (PriceClass_100, PriceClass_200 or PriceClass_All)."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "web_acl_arn" {
  description = "ARN of an existing WAFv2 web ACL (scope CLOUDFRONT, made in us-east-1) to attach to the distribution; null attaches none."
  type        = string
  default     = null

  validation {
    condition     = var.web_acl_arn == null ? true : can(regex("^arn:aws[a-z-]*:wafv2:us-east-1:[0-9]{12}:global/webacl/.+$", var.web_acl_arn))
    error_message = "web_acl_arn must be the ARN of a global (CLOUDFRONT) WAFv2 web ACL: arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>."
  }
}

variable "access_log_bucket" {
  description = "Name of an existing S3 bucket (ACLs enabled, as CloudFront standard logging requires) receiving the distribution's access logs under <name>/; null logs nothing."
  type        = string
  default     = null
}

variable "hsts_max_age_seconds" {
  description = "max-age of Strict-Transport-Security (cdn_enabled only: HSTS means nothing over the emulator's plain HTTP); at least a year."
  type        = number
  default     = 63072000

  validation {
    condition     = var.hsts_max_age_seconds >= 31536000
    error_message = "hsts_max_age_seconds must be at least 31536000 (one year)."
  }
}
