module "media_triage" {
  source = "../../modules/media_triage"

  project = "media-triage"
  env     = "dev"

  artifacts_dir           = "${path.root}/../../../build"
  media_process_image_uri = var.media_process_image_uri
  lambda_architectures    = ["arm64"] # devtools/build_zips.py --target lambda --arch arm64

  cors_allowed_origins = var.cors_allowed_origins
  log_level            = var.log_level

  force_destroy                  = true
  point_in_time_recovery_enabled = false
  log_retention_days             = 14

  triage_run = {
    gemini_model             = var.gemini_model
    gemini_api_key_parameter = var.gemini_api_key_parameter
  }
}
