"""Vector stores: parsing, chunking, embeddings, the hybrid chunk index and retrieval."""
