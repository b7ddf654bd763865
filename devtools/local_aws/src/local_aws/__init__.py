"""Local AWS emulator: moto server plus a host-process Lambda executor, the HTTP API data plane
and the Step Functions calls the Terraform AWS provider needs. See devtools/local_aws/README.md."""

__version__ = "0.1.0"
