"""Database access: table definitions, the engine, transactions and migrations."""
