# The web page: a private bucket holding the built files, config.json and (without CloudFront)
# _site/headers.json; with CloudFront (dev/prod) a distribution reading the bucket through an
# origin access control and routing /api/* to the HTTP API, so the page and its API share one
# origin. docs/adr/0010-serving-the-page.md.

locals {
  # ------------------------------------------------------------------- files

  # Terraform writes config.json and _site/*; a stale copy in the build never replaces them.
  site_files = toset([
    for f in fileset(var.site_dir, "**") : f
    if f != "config.json" && !startswith(f, "_site/")
  ])

  content_types = {
    html        = "text/html; charset=utf-8"
    js          = "text/javascript; charset=utf-8"
    css         = "text/css; charset=utf-8"
    json        = "application/json"
    svg         = "image/svg+xml"
    png         = "image/png"
    ico         = "image/x-icon"
    txt         = "text/plain; charset=utf-8"
    webmanifest = "application/manifest+json"
    woff2       = "font/woff2"
  }

  # Hashed names under assets/ never change content: cached for a year. Everything else
  # (index.html, config.json, unhashed files) is revalidated on every load.
  cache_immutable  = "public, max-age=31536000, immutable"
  cache_revalidate = "no-cache"

  config_json = jsonencode({
    apiBase                 = var.site_config.api_base
    maxFiles                = var.site_config.max_files
    maxFileBytes            = var.site_config.max_file_bytes
    multipartThresholdBytes = var.site_config.multipart_threshold_bytes
    maxPhotoBytes           = var.site_config.max_photo_bytes
    maxVideoBytes           = var.site_config.max_video_bytes
    acceptedTypes           = var.site_config.accepted_types
    env                     = var.env
  })

  # ------------------------------------------------------------------- headers

  # The one definition of the page's security headers: the CloudFront response headers policy
  # (dev/prod) and the emulator's _site/headers.json (local) are both made from this map.
  media_sources = join(" ", var.media_origins)
  content_security_policy = join("; ", [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' ${local.media_sources} blob: data:",
    "media-src 'self' ${local.media_sources} blob:",
    "connect-src 'self' ${local.media_sources}",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
  ])
  security_headers = merge(
    {
      "Content-Security-Policy" = local.content_security_policy
      # Presigned URLs must never leak through Referer.
      "Referrer-Policy"        = "no-referrer"
      "X-Content-Type-Options" = "nosniff"
      "X-Frame-Options"        = "DENY"
      "Permissions-Policy"     = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
    },
    var.cdn_enabled ? {
      "Strict-Transport-Security" = "max-age=${var.hsts_max_age_seconds}; includeSubDomains; preload"
    } : {},
  )

  # ------------------------------------------------------------------- where it is served

  api_domain = var.cdn_enabled ? regex("^https?://([^/]+)/?$", var.api_endpoint)[0] : null

  # AWS managed policies (fixed IDs, the same in every account; no lookup at plan time).
  managed_cache_policy_caching_optimized        = "658327ea-f89d-4fab-a63d-7e88639e58f6"
  managed_cache_policy_caching_disabled         = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
  managed_origin_request_all_viewer_except_host = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
  web_origin_id                                 = "web-bucket"
  api_origin_id                                 = "http-api"
}

# ----------------------------------------------------------------------------- bucket

# SSE-S3 (no kms_key_arn): CloudFront's origin access control reads it without a key policy.
module "bucket" {
  source = "../private_bucket"

  name          = var.name
  force_destroy = var.force_destroy
  tags          = var.tags

  # Only this distribution (its origin access control signs every request) reads the files.
  # The distribution's ARN is known once it exists: devtools/tf_policy.py reviews the policy
  # document from the plan (everything but that condition value is known there).
  policy_statements = var.cdn_enabled ? [{
    sid                   = "AllowCloudFrontRead"
    effect                = "Allow"
    actions               = ["s3:GetObject"]
    resource_suffixes     = ["/*"]
    principal_type        = "Service"
    principal_identifiers = ["cloudfront.amazonaws.com"]
    conditions = [{
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.this[0].arn]
    }]
  }] : []
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

# ----------------------------------------------------------------------------- objects

resource "aws_s3_object" "site" {
  for_each = local.site_files

  bucket        = module.bucket.id
  key           = each.value
  source        = "${var.site_dir}/${each.value}"
  source_hash   = filemd5("${var.site_dir}/${each.value}")
  content_type  = lookup(local.content_types, reverse(split(".", each.value))[0], null)
  cache_control = startswith(each.value, "assets/") ? local.cache_immutable : local.cache_revalidate
  tags          = var.tags

  lifecycle {
    precondition {
      condition     = contains(keys(local.content_types), reverse(split(".", each.value))[0])
      error_message = "${each.value}: no Content-Type for this extension in modules/web (content_types); add it, or keep the file out of the build."
    }
  }

  depends_on = [module.bucket] # objects written once ACLs are off (owner enforced)
}

resource "aws_s3_object" "config" {
  bucket        = module.bucket.id
  key           = "config.json"
  content       = local.config_json
  content_type  = local.content_types.json
  cache_control = local.cache_revalidate
  tags          = var.tags

  depends_on = [module.bucket] # objects written once ACLs are off (owner enforced)
}

# Without CloudFront the emulator serves the bucket and sends these headers with every file.
resource "aws_s3_object" "headers" {
  count = var.cdn_enabled ? 0 : 1

  bucket        = module.bucket.id
  key           = "_site/headers.json"
  content       = jsonencode(local.security_headers)
  content_type  = local.content_types.json
  cache_control = local.cache_revalidate
  tags          = var.tags

  depends_on = [module.bucket] # objects written once ACLs are off (owner enforced)
}

# ----------------------------------------------------------------------------- CloudFront

resource "aws_cloudfront_origin_access_control" "this" {
  count = var.cdn_enabled ? 1 : 0

  name                              = var.name
  description                       = "CloudFront reads ${var.name} (signed requests only)."
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_response_headers_policy" "this" {
  count = var.cdn_enabled ? 1 : 0

  name    = var.name
  comment = "Security headers of ${var.name} (modules/web local.security_headers)."

  security_headers_config {
    content_security_policy {
      content_security_policy = local.security_headers["Content-Security-Policy"]
      override                = true
    }

    strict_transport_security {
      access_control_max_age_sec = var.hsts_max_age_seconds
      include_subdomains         = true
      preload                    = true
      override                   = true
    }

    referrer_policy {
      referrer_policy = local.security_headers["Referrer-Policy"]
      override        = true
    }

    content_type_options {
      override = true
    }

    frame_options {
      frame_option = local.security_headers["X-Frame-Options"]
      override     = true
    }
  }

  custom_headers_config {
    items {
      header   = "Permissions-Policy"
      value    = local.security_headers["Permissions-Policy"]
      override = true
    }
  }
}

resource "aws_cloudfront_distribution" "this" {
  count = var.cdn_enabled ? 1 : 0

  enabled             = true
  is_ipv6_enabled     = true
  http_version        = "http2and3"
  comment             = "${var.name}: the page, and /api/* to the HTTP API"
  default_root_object = "index.html"
  price_class         = var.price_class
  web_acl_id          = var.web_acl_arn
  tags                = var.tags

  origin {
    origin_id                = local.web_origin_id
    domain_name              = module.bucket.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.this[0].id
  }

  origin {
    origin_id   = local.api_origin_id
    domain_name = local.api_domain

    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
    }
  }

  default_cache_behavior {
    target_origin_id           = local.web_origin_id
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    viewer_protocol_policy     = "redirect-to-https"
    compress                   = true
    cache_policy_id            = local.managed_cache_policy_caching_optimized
    response_headers_policy_id = aws_cloudfront_response_headers_policy.this[0].id
  }

  # The API on the page's own origin: no CORS, nothing cached, every viewer header (the
  # session token, Idempotency-Key, If-None-Match) but Host forwarded.
  ordered_cache_behavior {
    path_pattern               = "/api/*"
    target_origin_id           = local.api_origin_id
    allowed_methods            = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
    cached_methods             = ["GET", "HEAD"]
    viewer_protocol_policy     = "https-only"
    compress                   = false
    cache_policy_id            = local.managed_cache_policy_caching_disabled
    origin_request_policy_id   = local.managed_origin_request_all_viewer_except_host
    response_headers_policy_id = aws_cloudfront_response_headers_policy.this[0].id
  }

  dynamic "logging_config" {
    for_each = var.access_log_bucket == null ? [] : [var.access_log_bucket]

    content {
      bucket          = "${logging_config.value}.s3.amazonaws.com"
      prefix          = "${var.name}/"
      include_cookies = false
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }
}
