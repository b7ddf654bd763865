# terraform/envs/dev (make deploy-env ENV=dev). Replace the placeholders before the first apply.
region               = "eu-west-1"
cors_allowed_origins = ["https://dev.media-triage.example.com", "http://localhost:5173"]
log_level            = "DEBUG"

# allowed_account_ids      = ["111111111111"]
# gemini_api_key_parameter = "/media-triage/dev/gemini-api-key"
