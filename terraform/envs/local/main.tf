module "media_triage" {
  source = "../../modules/media_triage"

  project = "media-triage"
  env     = "local"

  artifacts_dir        = coalesce(var.artifacts_dir, "${path.root}/../../../build")
  lambda_architectures = var.lambda_architectures

  # The emulator serves the page itself (no CloudFront) at
  # http://localhost:<port>/_aws/site/<bucket>/ with the headers of _site/headers.json.
  web_site_dir      = var.web_site_dir
  web_cdn_enabled   = false
  emulator_endpoint = var.endpoint
  extra_web_origins = var.extra_web_origins

  log_level             = var.log_level
  stall_timeout_seconds = var.stall_timeout_seconds

  execution_timeout_seconds = var.execution_timeout_seconds

  init_session = {
    rate_limit_per_minute    = var.rate_limit_per_minute
    rate_limit_burst         = var.rate_limit_burst
    max_open_jobs_per_client = var.max_open_jobs_per_client
  }
  token_secret = { generation = var.token_secret_generation }

  # A throwaway deployment: destroyable with objects in it, no backups.
  force_destroy                  = true
  object_expiration_days         = var.object_expiration_days
  point_in_time_recovery_enabled = false
  log_retention_days             = 1

  # With GEMINI_API_KEY (TF_VAR_gemini_api_key) set, the key goes to the emulator's SSM and
  # triage-run uses Gemini, photos inline (Google cannot fetch the emulator's URLs); else the
  # local analyzer. triage_analyzer forces one.
  managed_gemini_api_key = var.gemini_api_key
  triage_run = {
    analyzer        = var.triage_analyzer
    gemini_media    = "inline"
    gemini_base_url = var.gemini_base_url
  }
}
