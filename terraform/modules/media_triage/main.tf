# The whole application for one environment: storage, the three functions, the triage state
# machine and the HTTP API, wired by the names in docs/CONTRACTS.md.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  prefix = "${var.project}-${var.env}"

  names = {
    bucket         = "${local.prefix}-media"
    sessions_table = "${local.prefix}-sessions"
    files_table    = "${local.prefix}-media-file-processing"
    media_process  = "${local.prefix}-media-process"
    init_session   = "${local.prefix}-init-session"
    triage_run     = "${local.prefix}-triage-run"
    state_machine  = "${local.prefix}-triage"
    api            = "${local.prefix}-api"
    dlq            = "${local.prefix}-media-process-dlq"
    web            = "${local.prefix}-web"
  }

  tags = merge(var.tags, { Project = var.project, Environment = var.env })

  # ARNs computed from the names: IAM statements use these, so every policy is known at plan
  # time (reviewable, and tested from the plan JSON) and adds no ordering edge (no cycles:
  # the bucket notifies media-process, whose policy names the bucket).
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id

  # Whether a managed key was given is not a secret; the key is.
  manage_gemini_key = nonsensitive(var.managed_gemini_api_key != null && var.managed_gemini_api_key != "")
  gemini_key_parameter = local.manage_gemini_key ? "/${var.project}/${var.env}/gemini-api-key" : (
    var.triage_run.gemini_api_key_parameter
  )
  # The server secret of tokens and key hashes (ADR 0014): one SecureString per generation,
  # "/<project>/<env>/token-secret/g<n>". Bumping token_secret.generation creates the next one
  # and makes it current; the one before stays readable as the previous secret (the grace
  # period) until the generation after, or until keep_previous is false.
  token_secret_generation = var.token_secret.generation
  token_secret_previous   = var.token_secret.keep_previous && var.token_secret.generation > 0
  token_secret_names = {
    for g in concat(local.token_secret_previous ? [local.token_secret_generation - 1] : [], [local.token_secret_generation]) :
    tostring(g) => "/${var.project}/${var.env}/token-secret/g${g}"
  }

  # The models a request may pick: the configured default first, then the extra ones.
  allowed_models = distinct(concat([var.triage_run.gemini_model], var.init_session.allowed_models))

  arn = {
    bucket         = "arn:${local.partition}:s3:::${local.names.bucket}"
    sessions_table = "arn:${local.partition}:dynamodb:${local.region}:${local.account}:table/${local.names.sessions_table}"
    files_table    = "arn:${local.partition}:dynamodb:${local.region}:${local.account}:table/${local.names.files_table}"
    triage_run     = "arn:${local.partition}:lambda:${local.region}:${local.account}:function:${local.names.triage_run}"
    state_machine  = "arn:${local.partition}:states:${local.region}:${local.account}:stateMachine:${local.names.state_machine}"
    executions     = "arn:${local.partition}:states:${local.region}:${local.account}:execution:${local.names.state_machine}:*"
    token_secret_params = [
      for name in values(local.token_secret_names) : "arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/${trimprefix(name, "/")}"
    ]
    gemini_key_param = local.gemini_key_parameter == null ? null : (
      "arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/${trimprefix(local.gemini_key_parameter, "/")}"
    )
  }

  # Names, not resource attributes, so that the whole environment is known (and reviewable)
  # at plan time; the output preconditions check that they match what was created.
  common_environment = {
    MEDIA_BUCKET          = local.names.bucket
    SESSIONS_TABLE        = local.names.sessions_table
    FILES_TABLE           = local.names.files_table
    LOG_LEVEL             = var.log_level
    APP_ENV               = var.env
    FILE_TTL_HOURS        = tostring(var.file_ttl_hours)
    STALL_TIMEOUT_SECONDS = tostring(var.stall_timeout_seconds)
  }

  # ------------------------------------------------------------------- the web page

  # What the page checks before uploading: the same values the functions are configured with
  # (their environment below), so the page and the API never disagree.
  page_limits = {
    # init_session.api.models.MAX_FILES (a contract constant, not a setting).
    max_files                 = 1000
    max_file_bytes            = var.init_session.max_file_bytes
    multipart_threshold_bytes = var.init_session.multipart_threshold_bytes
    max_photo_bytes           = var.media_process.max_photo_bytes
    max_video_bytes           = var.media_process.max_video_bytes
    # media_process.detect.PHOTO_TYPES and VIDEO_TYPES: what media-process accepts.
    accepted_types = [
      "image/jpeg", "image/png", "image/webp", "image/gif", "image/heic", "image/heif",
      "video/mp4", "video/quicktime", "video/webm", "video/x-matroska", "video/x-msvideo",
    ]
  }

  # Without CloudFront the emulator serves the page on localhost, the presigned S3 URLs stay
  # on the endpoint's 127.0.0.1: two origins, as the page's and the bucket's are in AWS.
  emulator_endpoint   = var.emulator_endpoint == null ? null : trimsuffix(var.emulator_endpoint, "/")
  emulator_web_origin = local.emulator_endpoint == null ? null : replace(local.emulator_endpoint, "127.0.0.1", "localhost")
  dns_suffix          = data.aws_partition.current.dns_suffix
  media_origins = var.web_cdn_enabled ? [
    "https://${local.names.bucket}.s3.${local.dns_suffix}",
    "https://${local.names.bucket}.s3.${local.region}.${local.dns_suffix}",
  ] : [local.emulator_endpoint]

  # The HTTP API's CORS: with CloudFront the page calls /api/* on its own origin (no CORS, and
  # the distribution's domain cannot be named here: the distribution routes to this API, a
  # cycle); only extra origins call it cross-origin. On the emulator the page's origin
  # (localhost) is known from the endpoint.
  api_cors_origins = distinct(concat(
    var.web_cdn_enabled ? [] : [local.emulator_web_origin],
    var.extra_web_origins,
  ))

  definition_path = coalesce(var.state_machine_definition_path, "${path.module}/../../../statemachine/triage.asl.json")
}

# ----------------------------------------------------------------------------- storage

module "storage" {
  source = "../storage"

  bucket_name            = local.names.bucket
  sessions_table_name    = local.names.sessions_table
  files_table_name       = local.names.files_table
  object_expiration_days = var.object_expiration_days
  kms_key_arn            = var.bucket_kms_key_arn
  table_kms_key_arn      = var.table_kms_key_arn
  # Browser uploads and presigned reads come from the page: its origin, and any extra one.
  cors_allowed_origins           = distinct(concat([module.web.web_origin], var.extra_web_origins))
  force_destroy                  = var.force_destroy
  point_in_time_recovery_enabled = var.point_in_time_recovery_enabled
  deletion_protection_enabled    = var.deletion_protection_enabled
  notification_function_arn      = module.media_process.function_arn
  notification_filter_prefix     = "uploads/"
  tags                           = local.tags
}

# ----------------------------------------------------------------------------- functions

module "media_process" {
  source = "../lambda_function"

  function_name                  = local.names.media_process
  description                    = "Per-upload media processing (S3 ObjectCreated under uploads/)."
  package_type                   = var.media_process_image_uri == null ? "Zip" : "Image"
  filename                       = var.media_process_image_uri == null ? "${var.artifacts_dir}/media_process.zip" : null
  handler                        = "media_process.handler.handler"
  image_uri                      = var.media_process_image_uri
  image_command                  = var.media_process_image_uri == null ? null : ["media_process.handler.handler"]
  architectures                  = var.lambda_architectures
  memory_size                    = var.media_process.memory_size
  timeout                        = var.media_process.timeout
  ephemeral_storage_size         = var.media_process.ephemeral_storage_size
  reserved_concurrent_executions = var.media_process.reserved_concurrent_executions
  log_retention_days             = var.log_retention_days
  policy_statements              = local.media_process_statements

  environment_variables = merge(local.common_environment, {
    PROCESSING_DEADLINE_SECONDS = tostring(var.media_process.processing_deadline_seconds)
    # The last attempt finalises an unexpected failure as `internal` instead of raising (ADR 0012).
    ASYNC_RETRY_ATTEMPTS = tostring(var.media_process.async_maximum_retry_attempts)
    MAX_PHOTO_BYTES      = tostring(var.media_process.max_photo_bytes)
    MAX_VIDEO_BYTES      = tostring(var.media_process.max_video_bytes)
    # The count that makes a job ready starts a successor execution when the job's execution
    # ended at its timeout (issue 13 item 4; ADR 0007).
    STATE_MACHINE_ARN = local.arn.state_machine
  })

  # S3 invokes asynchronously: Lambda retries a failed invocation, then sends the failure record
  # (with the original S3 event) to the dead-letter queue (devtools/redrive_dlq.py re-invokes).
  async_maximum_retry_attempts     = var.media_process.async_maximum_retry_attempts
  async_maximum_event_age_seconds  = var.media_process.async_maximum_event_age_seconds
  async_on_failure_destination_arn = module.operations.dlq_arn

  tags = local.tags
}

module "triage_run" {
  source = "../lambda_function"

  function_name                  = local.names.triage_run
  description                    = "Step Functions task: manifest -> analyzer -> verdicts."
  filename                       = "${var.artifacts_dir}/triage_run.zip"
  handler                        = "triage_run.handler.handler"
  architectures                  = var.lambda_architectures
  memory_size                    = var.triage_run.memory_size
  timeout                        = var.triage_run.timeout
  reserved_concurrent_executions = var.triage_run.reserved_concurrent_executions
  log_retention_days             = var.log_retention_days
  policy_statements              = local.triage_run_statements

  environment_variables = merge(
    local.common_environment,
    { GEMINI_MODEL = var.triage_run.gemini_model },
    var.triage_run.analyzer == null ? {} : { ANALYZER = var.triage_run.analyzer },
    local.gemini_key_parameter == null ? {} : { GEMINI_API_KEY_PARAM = local.gemini_key_parameter },
    var.triage_run.gemini_media == null ? {} : { GEMINI_MEDIA = var.triage_run.gemini_media },
    var.triage_run.gemini_base_url == null ? {} : { GEMINI_BASE_URL = var.triage_run.gemini_base_url },
  )

  tags = local.tags
}

module "init_session" {
  source = "../lambda_function"

  function_name                  = local.names.init_session
  description                    = "HTTP API handler: init, upload targets, results, retry, cancel."
  filename                       = "${var.artifacts_dir}/init_session.zip"
  handler                        = "init_session.handler.handler"
  architectures                  = var.lambda_architectures
  memory_size                    = var.init_session.memory_size
  timeout                        = var.init_session.timeout
  reserved_concurrent_executions = var.init_session.reserved_concurrent_executions
  log_retention_days             = var.log_retention_days
  policy_statements              = local.init_session_statements

  environment_variables = merge(
    local.common_environment,
    {
      STATE_MACHINE_ARN         = local.arn.state_machine
      MULTIPART_THRESHOLD_BYTES = tostring(var.init_session.multipart_threshold_bytes)
      MAX_FILE_BYTES            = tostring(var.init_session.max_file_bytes)
      # Abuse limits (ADR 0014): models a request may pick, each client's rate of new
      # executions (init, retry) and its open jobs.
      ALLOWED_MODELS           = jsonencode(local.allowed_models)
      RATE_LIMIT_PER_MINUTE    = tostring(var.init_session.rate_limit_per_minute)
      RATE_LIMIT_BURST         = tostring(var.init_session.rate_limit_burst)
      MAX_OPEN_JOBS_PER_CLIENT = tostring(var.init_session.max_open_jobs_per_client)
      # The server secret by name only; the function reads the values at cold start. A new
      # generation changes these names, so every container restarts with the new secret.
      # (Read from the resources: the function is updated only once the parameters exist.)
      TOKEN_SECRET_PARAM = aws_ssm_parameter.token_secret[tostring(local.token_secret_generation)].name
    },
    local.token_secret_previous ? {
      TOKEN_SECRET_PREVIOUS_PARAM = aws_ssm_parameter.token_secret[tostring(local.token_secret_generation - 1)].name
    } : {},
  )

  tags = local.tags
}

# ----------------------------------------------------------------------------- state machine

module "state_machine" {
  source = "../state_machine"

  name                     = local.names.state_machine
  definition_template_path = local.definition_path
  # Computed names and ARNs: the rendered definition is known (and reviewable) at plan time.
  definition_variables = {
    sessions_table          = local.names.sessions_table
    triage_run_function_arn = local.arn.triage_run
    poll_interval_seconds   = tostring(var.poll_interval_seconds)
  }
  timeout_seconds      = var.execution_timeout_seconds
  dynamodb_table_arns  = [local.arn.sessions_table]
  lambda_function_arns = [local.arn.triage_run]
  policy_statements    = local.table_kms_statements
  log_level            = var.state_machine_log_level
  log_retention_days   = var.log_retention_days
  tracing_enabled      = var.state_machine_tracing_enabled
  tags                 = local.tags
}

# ----------------------------------------------------------------------------- HTTP API

module "http_api" {
  source = "../http_api"

  name                   = local.names.api
  description            = "media-triage (${var.env}): sessions, upload targets and results."
  function_name          = module.init_session.function_name
  function_invoke_arn    = module.init_session.function_invoke_arn
  cors_allowed_origins   = local.api_cors_origins
  throttling_burst_limit = var.api_throttling_burst_limit
  throttling_rate_limit  = var.api_throttling_rate_limit
  jwt_authorizer         = var.api_jwt_authorizer
  # Browsers may send the JWT's header too (CORS preflight), when there is one.
  cors_allowed_headers = concat(
    ["authorization", "content-type", "idempotency-key", "if-none-match"],
    var.api_jwt_authorizer == null ? [] : [lower(trimprefix(var.api_jwt_authorizer.identity_source, "$request.header."))],
  )
  log_retention_days = var.log_retention_days
  tags               = local.tags
}

# ----------------------------------------------------------------------------- web page

module "web" {
  source = "../web"

  name          = local.names.web
  env           = var.env
  site_dir      = coalesce(var.web_site_dir, "${var.artifacts_dir}/web")
  force_destroy = var.force_destroy
  site_config = merge(local.page_limits, {
    # With CloudFront /api/* is on the page's origin; the emulator serves the API under
    # /_aws/execute-api/<apiId> of the same host and port as the page.
    api_base = var.web_cdn_enabled ? "" : "/_aws/execute-api/${module.http_api.api_id}"
  })
  media_origins = local.media_origins

  cdn_enabled       = var.web_cdn_enabled
  api_endpoint      = module.http_api.api_endpoint
  emulator_origin   = local.emulator_web_origin
  price_class       = var.web_price_class
  web_acl_arn       = var.web_acl_arn
  access_log_bucket = var.web_access_log_bucket
  tags              = local.tags
}

# ----------------------------------------------------------------------------- operations

module "operations" {
  source = "../operations"

  name_prefix                   = local.prefix
  env                           = var.env
  dlq_name                      = local.names.dlq
  dlq_message_retention_seconds = var.dlq_message_retention_seconds
  dlq_kms_key_arn               = var.dlq_kms_key_arn

  alarms_enabled                 = var.alarms_enabled
  alarm_sns_topic_arn            = var.alarm_sns_topic_arn
  alarm_period_seconds           = var.alarm_period_seconds
  function_names                 = { for role in ["media_process", "init_session", "triage_run"] : role => local.names[role] }
  state_machine_arn              = local.arn.state_machine
  state_machine_failed_threshold = var.alarm_state_machine_failed_threshold
  tags                           = local.tags
}

# Throwaway stacks only (var.managed_gemini_api_key): real envs reference a parameter by name.
resource "aws_ssm_parameter" "gemini_api_key" {
  count       = local.manage_gemini_key ? 1 : 0
  name        = local.gemini_key_parameter
  description = "Gemini API key of ${var.project}-${var.env} (managed_gemini_api_key)."
  type        = "SecureString"
  value       = var.managed_gemini_api_key
  tags        = local.tags
}

# The server secret of session tokens and idempotency-key hashes (ADR 0014), generated once per
# generation from Terraform's built-ins (no random provider): two UUIDs (244 random bits from
# crypto/rand) through SHA-256. ignore_changes keeps the first value: later plans neither show
# nor apply a new one. The value is in the state (encrypted backend); it never reaches a
# function's configuration, only its parameter name does.
resource "aws_ssm_parameter" "token_secret" {
  for_each    = local.token_secret_names
  name        = each.value
  description = "Server secret (generation ${each.key}) of ${var.project}-${var.env}'s session tokens and idempotency keys."
  type        = "SecureString"
  key_id      = var.token_secret.kms_key_arn
  value       = sha256("${uuid()}/${uuid()}")
  tags        = local.tags

  lifecycle {
    ignore_changes = [value]
  }
}
