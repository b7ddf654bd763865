module "media_triage" {
  source = "../../modules/media_triage"

  project = "media-triage"
  env     = "prod"

  artifacts_dir           = "${path.root}/../../../build"
  media_process_image_uri = var.media_process_image_uri
  lambda_architectures    = ["arm64"] # devtools/build_zips.py --target lambda --arch arm64

  cors_allowed_origins = var.cors_allowed_origins
  log_level            = var.log_level

  force_destroy                  = false
  point_in_time_recovery_enabled = true
  deletion_protection_enabled    = true
  log_retention_days             = 90

  media_process = {
    reserved_concurrent_executions = var.media_process_reserved_concurrency
  }

  triage_run = {
    gemini_model             = var.gemini_model
    gemini_api_key_parameter = var.gemini_api_key_parameter
  }

  api_jwt_authorizer = var.api_jwt_authorizer
}
