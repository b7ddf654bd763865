"""CLI test helpers: the fake HTTP API, its contract checks, and running the CLI against it."""
