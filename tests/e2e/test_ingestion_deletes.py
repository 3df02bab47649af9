"""A file deleted while it is being ingested stays deleted: deleting the vector store file, or
the File itself, while its embeddings are under way never brings it back as `completed`."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import openai
import pytest

from tests.conftest import BACKENDS, _database_url, make_settings, sdk
from tests.fakes.upstream import FakeUpstream
from tests.support.server import RunningServer, run_server


@pytest.fixture(params=BACKENDS)
def upstream_embedding_server(
    request: pytest.FixtureRequest, tmp_path: Path, fake_upstream: FakeUpstream
) -> Iterator[RunningServer]:
    """A server whose embeddings come from the fake upstream, so a test can hold them."""
    with ExitStack() as stack:
        url = _database_url(request.param, stack, tmp_path)
        settings = make_settings(
            tmp_path,
            url,
            upstream_base_url=fake_upstream.base_url,
            embedding_model="fake-embed",
            embedding_dimensions=8,
        )
        yield stack.enter_context(run_server(settings))


def _wait(predicate: object, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _embedding_calls(fake: FakeUpstream) -> int:
    return sum(1 for body in fake.requests if body.get("model") == "fake-embed")


@pytest.mark.parametrize("delete", ["vector_store_file", "file"])
def test_a_file_deleted_mid_ingestion_stays_deleted(
    upstream_embedding_server: RunningServer, fake: FakeUpstream, delete: str
) -> None:
    with sdk(upstream_embedding_server) as client:
        store = client.vector_stores.create(name="docs")
        doc = client.files.create(
            file=("notes.txt", io.BytesIO(b"The refund window is 30 days.")), purpose="assistants"
        )
        fake.hold_embeddings.set()
        client.vector_stores.files.create(vector_store_id=store.id, file_id=doc.id)
        _wait(lambda: _embedding_calls(fake) >= 1, "the embeddings request")
        if delete == "file":
            client.files.delete(doc.id)
        else:
            client.vector_stores.files.delete(file_id=doc.id, vector_store_id=store.id)
        fake.hold_embeddings.clear()

        # A file attached afterwards is written after the deleted one's write was tried.
        other = client.files.create(
            file=("other.txt", io.BytesIO(b"Shipping takes 5 days.")), purpose="assistants"
        )
        done = client.vector_stores.files.create_and_poll(
            vector_store_id=store.id, file_id=other.id, poll_interval_ms=50
        )
        assert done.status == "completed"
        _wait(lambda: _embedding_calls(fake) >= 2, "the second file's embeddings")

        assert [f.id for f in client.vector_stores.files.list(store.id)] == [other.id]
        with pytest.raises(openai.NotFoundError):
            client.vector_stores.files.retrieve(file_id=doc.id, vector_store_id=store.id)
        found = client.vector_stores.search(store.id, query="refund window")
        assert all(hit.file_id != doc.id for hit in found.data)
        assert client.vector_stores.retrieve(store.id).file_counts.total == 1
