terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # State of a throwaway emulator deployment: kept locally (the Makefile and the tests pass
  # -state=<file> next to the emulator's data).
  backend "local" {}
}
