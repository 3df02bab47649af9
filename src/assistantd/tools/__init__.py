"""Server-side tools the run executor can call (code interpreter, file search, functions)."""
