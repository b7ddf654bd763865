# terraform/envs/local: the bundled emulator (make up && make deploy-env ENV=local).
log_level = "INFO"
