"""n8n (and any HTTP client) in and out: pipeline trigger URLs with per-pipeline secrets,
and run events delivered, signed and retried, to webhook targets."""
