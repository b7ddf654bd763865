# terraform/envs/local: the bundled emulator (make up && make deploy-env ENV=local).
cors_allowed_origins = ["http://localhost:3000", "http://localhost:5173", "http://127.0.0.1:8000"]
log_level            = "INFO"
