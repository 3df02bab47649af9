"""The row shape both index backends insert, and the vector encodings stored in it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistantd.file_search import keywords
from assistantd.file_search.chunking import Chunk

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class ChunkRow:
    index: int
    start: int
    end: int
    tokens: int
    text: str
    embedding: bytes  # float32 little-endian, unit length
    bits: bytes  # sign bits, packed, most significant bit first
    terms: list[str]  # keywords.terms(text)


def chunk_rows(chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> list[ChunkRow]:
    """The rows of a file's chunks (CPU-bound: ingestion runs it off the event loop)."""
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors.")
    if not vectors:
        raise ValueError("A file needs at least one chunk.")
    matrix = unit_matrix(vectors)
    return [
        ChunkRow(
            c.index,
            c.start,
            c.end,
            c.tokens,
            c.text,
            encode_embedding(v),
            sign_bits(v),
            keywords.terms(c.text),
        )
        for c, v in zip(chunks, matrix, strict=True)
    ]


def unit_matrix(vectors: Sequence[Sequence[float]]) -> npt.NDArray[np.float32]:
    """Vectors as a float32 matrix with rows scaled to unit length (zero rows left as is)."""
    import numpy as np

    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: npt.NDArray[np.float32] = matrix / norms
    return out


def encode_embedding(vector: npt.NDArray[np.float32]) -> bytes:
    return vector.astype("<f4").tobytes()


def decode_embeddings(blobs: Sequence[bytes]) -> npt.NDArray[np.float32]:
    import numpy as np

    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), -1)


def sign_bits(vector: npt.NDArray[np.float32]) -> bytes:
    """One bit per dimension (1 where the component is positive), packed into bytes."""
    import numpy as np

    return np.packbits(vector > 0).tobytes()


def bit_string(bits: bytes, dimensions: int) -> str:
    """Packed sign bits as PostgreSQL's '0101…' BIT VARYING text of exactly `dimensions`."""
    return "".join(f"{byte:08b}" for byte in bits)[:dimensions]
