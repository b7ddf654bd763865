# The local AWS emulator (devtools/local_aws, or LocalStack): every service the stack uses, or
# the provider calls on its behalf, is pointed at var.endpoint with LocalStack's fake
# credentials; nothing may reach real AWS from this root.
provider "aws" {
  region     = "us-east-1"
  access_key = "test"
  secret_key = "test"

  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {
    apigatewayv2   = var.endpoint
    cloudfront     = var.endpoint # dev/prod settings planned against the emulator (web module)
    cloudwatch     = var.endpoint
    cloudwatchlogs = var.endpoint
    dynamodb       = var.endpoint
    iam            = var.endpoint
    kms            = var.endpoint # DynamoDB SSE: the provider describes alias/aws/dynamodb
    lambda         = var.endpoint
    s3             = var.endpoint
    sfn            = var.endpoint
    sns            = var.endpoint
    sqs            = var.endpoint
    ssm            = var.endpoint
    sts            = var.endpoint
  }
}
