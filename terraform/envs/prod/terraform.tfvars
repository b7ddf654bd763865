# terraform/envs/prod (make deploy-env ENV=prod). Replace the placeholders before the first apply.
region               = "eu-west-1"
cors_allowed_origins = ["https://media-triage.example.com"]
log_level            = "INFO"

# allowed_account_ids                = ["222222222222"]
# gemini_api_key_parameter           = "/media-triage/prod/gemini-api-key"
# media_process_image_uri            = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/media-triage-media-process@sha256:..."
# media_process_reserved_concurrency = 100
