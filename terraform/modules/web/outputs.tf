output "web_url" {
  description = "URL of the page: https://<distribution domain>/ with CloudFront, http://localhost:<port>/_aws/site/<bucket>/ on the emulator."
  value = (
    var.cdn_enabled
    ? "https://${aws_cloudfront_distribution.this[0].domain_name}/"
    : "${var.emulator_origin}/_aws/site/${var.name}/"
  )
}

output "web_origin" {
  description = "Origin of the page (scheme://host[:port]): the media bucket's CORS allows it."
  value       = var.cdn_enabled ? "https://${aws_cloudfront_distribution.this[0].domain_name}" : var.emulator_origin

  precondition {
    condition     = var.cdn_enabled || var.emulator_origin != null
    error_message = "emulator_origin is required when cdn_enabled is false (the emulator serves the page)."
  }
}

output "bucket_name" {
  description = "Name of the page's bucket."
  value       = module.bucket.id

  precondition {
    # web_url names the bucket by var.name, so that it is known at plan time.
    condition     = module.bucket.id == var.name
    error_message = "The page's bucket name differs from var.name, which web_url uses."
  }
}

output "bucket_arn" {
  description = "ARN of the page's bucket."
  value       = module.bucket.arn
}

output "distribution_id" {
  description = "ID of the CloudFront distribution (null without CloudFront): aws cloudfront create-invalidation --distribution-id ..."
  value       = var.cdn_enabled ? aws_cloudfront_distribution.this[0].id : null
}

output "distribution_arn" {
  description = "ARN of the CloudFront distribution (null without CloudFront)."
  value       = var.cdn_enabled ? aws_cloudfront_distribution.this[0].arn : null
}

output "distribution_domain_name" {
  description = "Domain name of the CloudFront distribution (<id>.cloudfront.net; null without CloudFront)."
  value       = var.cdn_enabled ? aws_cloudfront_distribution.this[0].domain_name : null
}

output "security_headers" {
  description = "The page's security headers (header -> value), as CloudFront or the emulator send them."
  value       = local.security_headers
}
