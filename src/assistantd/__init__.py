"""assistantd: a self-hosted, drop-in server for the OpenAI Assistants API."""

__version__ = "0.1.0"
