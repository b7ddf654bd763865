module "media_triage" {
  source = "../../modules/media_triage"

  project = "media-triage"
  env     = "local"

  artifacts_dir        = coalesce(var.artifacts_dir, "${path.root}/../../../build")
  lambda_architectures = var.lambda_architectures

  cors_allowed_origins  = var.cors_allowed_origins
  log_level             = var.log_level
  stall_timeout_seconds = var.stall_timeout_seconds

  # A throwaway deployment: destroyable with objects in it, no backups.
  force_destroy                  = true
  object_expiration_days         = var.object_expiration_days
  point_in_time_recovery_enabled = false
  log_retention_days             = 1

  triage_run = {
    analyzer = var.triage_analyzer
  }
}
