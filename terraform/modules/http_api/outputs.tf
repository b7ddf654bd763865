output "api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "api_endpoint" {
  description = "Default endpoint of the HTTP API ($default stage: no stage segment in paths)."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "api_execution_arn" {
  description = "Execution ARN of the HTTP API (prefix of its invoke permissions)."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "log_group_name" {
  description = "Name of the access log group."
  value       = aws_cloudwatch_log_group.this.name
}
