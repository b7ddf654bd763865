terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Remote state, partially configured: the rest comes from backend.hcl at init
  # (`terraform init -backend-config=backend.hcl`, as `make deploy-env ENV=prod` does); copy
  # backend.hcl.example and fill in the state bucket, its region and the locking choice.
  backend "s3" {
    key     = "media-triage/prod/terraform.tfstate"
    encrypt = true
  }
}
