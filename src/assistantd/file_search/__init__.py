"""File search, the engine under vector stores: parsing, chunking, embeddings, the hybrid chunk
index (SQLite and PostgreSQL), its writer, retrieval and background ingestion.

`engine.FileSearchEngine`, built once in the app's lifespan, is the way in; the API resource
(`vector_stores/`) and the `file_search` tools of runs and responses call it.
"""
