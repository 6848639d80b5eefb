"""The HTTP API: an app factory and one thin router module per feature."""
