"""Vector stores, the API resource: routes, schemas, rules and rows (the engine: `file_search`)."""
