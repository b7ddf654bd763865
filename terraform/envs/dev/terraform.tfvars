# terraform/envs/dev (make deploy-env ENV=dev). Replace the placeholders before the first apply.
# Secrets never go here: the Gemini key lives in SSM Parameter Store, referenced by NAME.
region             = "eu-west-1"
log_level          = "DEBUG"
log_retention_days = 14

# media-process: container image (make image IMAGE_REPO=...), or pass MEDIA_PROCESS_IMAGE=... to make.
# media_process_image_uri = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/media-triage-media-process@sha256:..."
media_process_memory_mb            = 2048
media_process_timeout_seconds      = 300
media_process_ephemeral_storage_mb = 2048

# Concurrency caps: null = unreserved. An account whose concurrency limit is still the new-account
# default (10) cannot reserve any; raise the limit first.
# media_process_reserved_concurrency = 20
# triage_run_reserved_concurrency    = 5

# allowed_account_ids      = ["111111111111"]
# gemini_api_key_parameter = "/media-triage/dev/gemini-api-key"   # unset: the local analyzer
# alarm_sns_topic_arn      = "arn:aws:sns:eu-west-1:111111111111:media-triage-dev-alarms"

# The page is served by CloudFront (web_url output); its https://<id>.cloudfront.net origin is
# allowed by the media bucket's CORS on its own. Other origins that serve the page (e.g. a
# developer's page server calling this env's API cross-origin) are added to the bucket's and
# the API's CORS:
# extra_web_origins = ["http://localhost:8000"]
# web_price_class   = "PriceClass_100"
# web_acl_arn       = "arn:aws:wafv2:us-east-1:111111111111:global/webacl/media-triage/..."
