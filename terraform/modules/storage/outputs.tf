output "bucket_name" {
  description = "Name of the media bucket."
  value       = module.bucket.id
}

output "bucket_arn" {
  description = "ARN of the media bucket."
  value       = module.bucket.arn
}

output "sessions_table_name" {
  description = "Name of the sessions table."
  value       = aws_dynamodb_table.sessions.name
}

output "sessions_table_arn" {
  description = "ARN of the sessions table."
  value       = aws_dynamodb_table.sessions.arn
}

output "files_table_name" {
  description = "Name of the media-file-processing table."
  value       = aws_dynamodb_table.files.name
}

output "files_table_arn" {
  description = "ARN of the media-file-processing table."
  value       = aws_dynamodb_table.files.arn
}
