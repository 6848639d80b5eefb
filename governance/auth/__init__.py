"""API keys and roles: keys are stored only as SHA-256 hashes and carry exactly one role."""
