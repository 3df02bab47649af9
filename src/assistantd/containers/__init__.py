"""/containers: code interpreter sessions of the Responses API, on the Assistants sandbox."""
