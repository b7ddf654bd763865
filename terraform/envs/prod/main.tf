module "media_triage" {
  source = "../../modules/media_triage"

  project = "media-triage"
  env     = "prod"

  # init-session and triage-run ship as zips (devtools/build_zips.py --target lambda --arch
  # arm64); media-process as the container image with a static ffmpeg (make image), pinned by
  # digest. docs/adr/0008-zip-and-image.md.
  artifacts_dir           = coalesce(var.artifacts_dir, "${path.root}/../../../build")
  media_process_image_uri = var.media_process_image_uri
  lambda_architectures    = [var.lambda_architecture]

  # The page (make web: build/web) in a private bucket behind CloudFront, /api/* on the same
  # distribution. docs/adr/0010-serving-the-page.md.
  web_site_dir          = var.web_site_dir
  web_price_class       = var.web_price_class
  web_acl_arn           = var.web_acl_arn
  web_access_log_bucket = var.web_access_log_bucket
  extra_web_origins     = var.extra_web_origins

  log_level                  = var.log_level
  log_retention_days         = var.log_retention_days
  api_throttling_burst_limit = var.api_throttling_burst_limit
  api_throttling_rate_limit  = var.api_throttling_rate_limit
  api_jwt_authorizer         = var.api_jwt_authorizer

  force_destroy                  = false
  point_in_time_recovery_enabled = true
  deletion_protection_enabled    = true

  media_process = {
    memory_size                    = var.media_process_memory_mb
    timeout                        = var.media_process_timeout_seconds
    ephemeral_storage_size         = var.media_process_ephemeral_storage_mb
    processing_deadline_seconds    = var.media_process_timeout_seconds - 60
    reserved_concurrent_executions = var.media_process_reserved_concurrency
  }

  init_session = {
    reserved_concurrent_executions = var.init_session_reserved_concurrency
    allowed_models                 = var.allowed_models
    rate_limit_per_minute          = var.rate_limit_per_minute
    rate_limit_burst               = var.rate_limit_burst
    max_open_jobs_per_client       = var.max_open_jobs_per_client
  }

  token_secret = {
    generation    = var.token_secret_generation
    keep_previous = var.token_secret_keep_previous
  }

  triage_run = {
    reserved_concurrent_executions = var.triage_run_reserved_concurrency
    analyzer                       = var.triage_analyzer
    gemini_model                   = var.gemini_model
    gemini_api_key_parameter       = var.gemini_api_key_parameter
  }

  alarms_enabled                       = true
  alarm_sns_topic_arn                  = var.alarm_sns_topic_arn
  alarm_state_machine_failed_threshold = var.alarm_state_machine_failed_threshold
}
