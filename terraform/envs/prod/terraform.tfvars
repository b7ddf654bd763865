# terraform/envs/prod (make deploy-env ENV=prod). Replace the placeholders before the first apply.
# Secrets never go here: the Gemini key lives in SSM Parameter Store, referenced by NAME
# (aws ssm put-parameter --type SecureString --name /media-triage/prod/gemini-api-key ...).
region             = "eu-west-1"
log_level          = "INFO"
log_retention_days = 90

api_throttling_burst_limit = 200
api_throttling_rate_limit  = 100

# media-process: container image (make image IMAGE_REPO=...), or pass MEDIA_PROCESS_IMAGE=... to make.
# media_process_image_uri = "222222222222.dkr.ecr.eu-west-1.amazonaws.com/media-triage-media-process@sha256:..."
media_process_memory_mb            = 2048 # ADR 0018: the bench-media trade table
media_process_timeout_seconds      = 300
media_process_ephemeral_storage_mb = 2048

# Concurrency caps (the account's unreserved pool must keep at least 10).
media_process_reserved_concurrency = 100
init_session_reserved_concurrency  = 50
triage_run_reserved_concurrency    = 20

gemini_api_key_parameter = "/media-triage/prod/gemini-api-key"
gemini_model             = "gemini-2.5-flash"
# triage_analyzer        = "local"   # the offline fallback during a Gemini outage (docs/runbook.md)

# Abandoned sessions (nothing uploaded before the stall deadline) end Failed too.
alarm_state_machine_failed_threshold = 2
# alarm_sns_topic_arn                = "arn:aws:sns:eu-west-1:222222222222:media-triage-prod-alarms"
# allowed_account_ids                = ["222222222222"]

# The page is served by CloudFront (web_url output); its https://<id>.cloudfront.net origin is
# allowed by the media bucket's CORS on its own. Other origins that serve the page (e.g. a
# developer's page server calling this env's API cross-origin) are added to the bucket's and
# the API's CORS:
# extra_web_origins = ["http://localhost:8000"]
# web_price_class   = "PriceClass_100"
# web_acl_arn       = "arn:aws:wafv2:us-east-1:222222222222:global/webacl/media-triage/..."
