variable "name" {
  description = "Name of the HTTP API; also names its access log group."
  type        = string
}

variable "description" {
  description = "Description of the HTTP API."
  type        = string
  default     = ""
}

variable "function_name" {
  description = "Name (or ARN) of the Lambda function every route integrates with (init-session)."
  type        = string
}

variable "function_invoke_arn" {
  description = "Invoke ARN of that function (AWS_PROXY integration URI)."
  type        = string
}

variable "route_keys" {
  description = "Route keys (\"METHOD /path\"), every one to the function with payload format 2.0."
  type        = list(string)
  default = [
    "POST /api/triage/init",
    "POST /api/triage/{jobId}/uploads",
    "POST /api/triage/{jobId}/multipart/parts",
    "POST /api/triage/{jobId}/multipart/complete",
    "POST /api/triage/{jobId}/multipart/abort",
    "PATCH /api/triage/{jobId}",
    "DELETE /api/triage/{jobId}",
    "GET /api/triage/{jobId}/results",
    "GET /api/triage/{jobId}/files/{fileId}/media",
    "POST /api/triage/{jobId}/retry",
    "GET /api/openapi.json",
    # Everything else reaches the function too, so an unknown path or method gets the API's
    # one JSON error shape (404/405 with x-request-id) instead of API Gateway's bare 404.
    "$default",
  ]
}

variable "cors_allowed_origins" {
  description = "Browser origins allowed to call the API cross-origin; empty: no CORS configuration (the page reaches the API on its own origin)."
  type        = list(string)
}

variable "cors_allowed_headers" {
  description = "Request headers browsers may send."
  type        = list(string)
  default     = ["authorization", "content-type", "idempotency-key", "if-none-match"]
}

variable "cors_expose_headers" {
  description = "Response headers the page may read."
  type        = list(string)
  default     = ["etag", "x-request-id"]
}

variable "cors_max_age_seconds" {
  description = "How long browsers may cache a preflight response."
  type        = number
  default     = 3600
}

variable "integration_timeout_milliseconds" {
  description = "Integration timeout (50-30000 ms)."
  type        = number
  default     = 29000
}

variable "throttling_burst_limit" {
  description = "Stage-wide burst limit of requests (default route settings)."
  type        = number
  default     = 200
}

variable "throttling_rate_limit" {
  description = "Stage-wide steady-state limit, requests per second (default route settings)."
  type        = number
  default     = 100
}

variable "log_retention_days" {
  description = "Retention of the access log group, in days."
  type        = number
  default     = 14
}

variable "jwt_authorizer" {
  description = <<-EOT
    Optional JWT authorizer in front of every route: {issuer, audience, identity_source}. null
    leaves the routes to the function's own session-token check (which stays either way). The
    session token travels in Authorization, so a JWT usually needs another header as its
    identity_source (e.g. "$request.header.X-Identity-Token").
  EOT
  type = object({
    issuer          = string
    audience        = list(string)
    identity_source = optional(string, "$request.header.X-Identity-Token")
  })
  default = null
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
