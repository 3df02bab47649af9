"""GET /v1/models: the upstream's models, relayed."""
