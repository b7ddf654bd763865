# Media bucket (modules/private_bucket: private, encrypted, TLS-only, objects expire), its CORS
# rules, its ObjectCreated notification to media-process (uploads/ only), and the two DynamoDB
# tables.

data "aws_caller_identity" "current" {}

# ----------------------------------------------------------------------------- bucket

module "bucket" {
  source = "../private_bucket"

  name                   = var.bucket_name
  force_destroy          = var.force_destroy
  kms_key_arn            = var.kms_key_arn
  object_expiration_days = var.object_expiration_days
  tags                   = var.tags
}

# The hardening moved into modules/private_bucket: state follows, nothing is replaced.
moved {
  from = aws_s3_bucket.this
  to   = module.bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_ownership_controls.this
  to   = module.bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_public_access_block.this
  to   = module.bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.this
  to   = module.bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_policy.this
  to   = module.bucket.aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.this
  to   = module.bucket.aws_s3_bucket_lifecycle_configuration.this
}

resource "aws_s3_bucket_cors_configuration" "this" {
  bucket = module.bucket.id

  cors_rule {
    # POST: presigned POST (small files); PUT: presigned multipart parts; GET/HEAD: presigned
    # reads of thumbnails and display images by the page.
    allowed_methods = ["GET", "HEAD", "POST", "PUT"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["*"]
    expose_headers  = ["ETag"] # the page needs each part's ETag to complete a multipart upload
    max_age_seconds = var.cors_max_age_seconds
  }
}

# ----------------------------------------------------------------------------- notification

resource "aws_lambda_permission" "this" {
  statement_id   = "AllowS3ObjectCreated"
  action         = "lambda:InvokeFunction"
  function_name  = var.notification_function_arn
  principal      = "s3.amazonaws.com"
  source_arn     = module.bucket.arn
  source_account = data.aws_caller_identity.current.account_id
}

resource "aws_s3_bucket_notification" "this" {
  bucket = module.bucket.id

  lambda_function {
    id                  = "media-process"
    lambda_function_arn = var.notification_function_arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = var.notification_filter_prefix
  }

  # S3 validates the destination when the configuration is written.
  depends_on = [aws_lambda_permission.this]
}

# ----------------------------------------------------------------------------- tables

resource "aws_dynamodb_table" "sessions" {
  name                        = var.sessions_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.table_kms_key_arn
  }

  tags = var.tags
}

resource "aws_dynamodb_table" "files" {
  name                        = var.files_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.table_kms_key_arn
  }

  tags = var.tags
}
