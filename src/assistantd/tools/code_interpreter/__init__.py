"""The code-interpreter tool: the Docker sandbox (`sandbox.py`), its image (`image.py`) and the
in-container runtime (`runtime/`). The run executor talks only to the `Sandbox` protocol."""
