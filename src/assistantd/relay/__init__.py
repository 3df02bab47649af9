"""`POST /chat/completions` and `POST /embeddings`, relayed to the upstream as they are, so one
client (one `base_url`) serves chat, embeddings and assistants."""
