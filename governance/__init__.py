"""governance-audit: a compliance and governance audit service for ML platforms."""
