"""Vector stores through the official SDK: upload and poll, batches, search, filters,
failures, detaching and deleting files, expiry."""

from __future__ import annotations

import io

import httpx
import openai
import pytest

DOCS = {
    "tea.txt": "Green tea is made from unoxidised leaves. Matcha is a powdered green tea from "
    "Japan, whisked with hot water in the tea ceremony.",
    "rust.md": "# Rust\nRust is a systems programming language with ownership and borrowing, "
    "which prevent data races at compile time.",
    "富士山.txt": "富士山は日本で最も高い山で、標高は3776メートルです。"
    "山梨県と静岡県にまたがっています。",
}


def _upload(client: openai.OpenAI, name: str, text: str) -> str:
    return client.files.create(file=(name, io.BytesIO(text.encode())), purpose="assistants").id


def test_batch_upload_and_search(client: openai.OpenAI) -> None:
    store = client.vector_stores.create(name="knowledge", metadata={"team": "docs"})
    assert store.id.startswith("vs_") and store.status == "completed"
    batch = client.vector_stores.file_batches.upload_and_poll(
        store.id, files=[(name, io.BytesIO(text.encode())) for name, text in DOCS.items()]
    )
    assert batch.object == "vector_store.files_batch"
    assert batch.status == "completed"
    assert (batch.file_counts.completed, batch.file_counts.total) == (3, 3)
    store = client.vector_stores.retrieve(store.id)
    assert store.file_counts.completed == 3 and store.usage_bytes > 0
    files = list(client.vector_stores.files.list(store.id))
    assert {f.status for f in files} == {"completed"}
    assert files[0].chunking_strategy.type == "static"  # type: ignore[union-attr]

    results = client.vector_stores.search(store.id, query="powdered tea ceremony")
    assert results.data[0].filename == "tea.txt"
    assert 0 <= results.data[0].score <= 1
    assert "Matcha" in results.data[0].content[0].text
    japanese = client.vector_stores.search(store.id, query="日本で一番高い山の標高は?")
    assert japanese.data[0].filename == "富士山.txt"
    rewritten = client.vector_stores.search(
        store.id, query="Can you tell me about the powdered tea ceremony?", rewrite_query=True
    )
    assert rewritten.search_query == ["powdered tea ceremony"]
    assert rewritten.data[0].filename == "tea.txt"
    as_asked = client.vector_stores.search(store.id, query="What is Rust?")
    assert as_asked.search_query == ["What is Rust?"]


def test_file_attach_attributes_filters_and_detach(client: openai.OpenAI) -> None:
    store = client.vector_stores.create(name="filters")
    first = _upload(client, "a.txt", "The quarterly report shows revenue growth in Europe.")
    second = _upload(client, "b.txt", "The quarterly report shows revenue decline in Asia.")
    client.vector_stores.files.create_and_poll(
        file_id=first, vector_store_id=store.id, attributes={"region": "eu", "year": 2024}
    )
    client.vector_stores.files.create_and_poll(
        file_id=second, vector_store_id=store.id, attributes={"region": "asia", "year": 2023}
    )
    both = client.vector_stores.search(store.id, query="quarterly revenue report")
    assert {r.file_id for r in both.data} == {first, second}
    eu = client.vector_stores.search(
        store.id,
        query="quarterly revenue report",
        filters={"type": "eq", "key": "region", "value": "eu"},
    )
    assert [r.file_id for r in eu.data] == [first]
    assert eu.data[0].attributes == {"region": "eu", "year": 2024}
    recent = client.vector_stores.search(
        store.id,
        query="quarterly revenue report",
        filters={"type": "gte", "key": "year", "value": 2024},
    )
    assert [r.file_id for r in recent.data] == [first]
    updated = client.vector_stores.files.update(
        first, vector_store_id=store.id, attributes={"region": "asia"}
    )
    assert updated.attributes == {"region": "asia"}
    deleted = client.vector_stores.files.delete(second, vector_store_id=store.id)
    assert (deleted.object, deleted.deleted) == ("vector_store.file.deleted", True)
    assert client.files.retrieve(second).id == second  # the file itself stays
    after = client.vector_stores.search(store.id, query="quarterly revenue report")
    assert [r.file_id for r in after.data] == [first]
    client.files.delete(first)  # deleting the file removes it from every store
    assert client.vector_stores.search(store.id, query="quarterly revenue report").data == []
    assert client.vector_stores.retrieve(store.id).file_counts.total == 0


def test_unsupported_and_empty_files_fail(client: openai.OpenAI) -> None:
    store = client.vector_stores.create(name="bad")
    binary = client.files.create(
        file=("photo.xyz", io.BytesIO(b"\x00\x01\x02")), purpose="assistants"
    )
    empty = _upload(client, "empty.txt", "   \n ")
    failed = client.vector_stores.files.create_and_poll(file_id=binary.id, vector_store_id=store.id)
    assert failed.status == "failed" and failed.last_error is not None
    assert failed.last_error.code == "unsupported_file"
    failed = client.vector_stores.files.create_and_poll(file_id=empty, vector_store_id=store.id)
    assert failed.status == "failed" and failed.last_error.code == "invalid_file"  # type: ignore[union-attr]
    counts = client.vector_stores.retrieve(store.id).file_counts
    assert (counts.failed, counts.total, counts.in_progress) == (2, 2, 0)


def test_file_content_modify_delete_and_errors(client: openai.OpenAI, http: httpx.Client) -> None:
    file_id = _upload(client, "tea.txt", DOCS["tea.txt"])
    store = client.vector_stores.create(
        name="x", file_ids=[file_id], expires_after={"anchor": "last_active_at", "days": 2}
    )
    assert store.expires_at is not None and store.expires_after.days == 2  # type: ignore[union-attr]
    client.vector_stores.files.poll(file_id, vector_store_id=store.id)
    page = http.get(f"/vector_stores/{store.id}/files/{file_id}/content").json()
    assert page["object"] == "vector_store.file_content.page"
    assert "Matcha" in page["data"][0]["text"]
    renamed = client.vector_stores.update(store.id, name="renamed", metadata={"k": "v"})
    assert (renamed.name, renamed.metadata) == ("renamed", {"k": "v"})
    assert store.id in [s.id for s in client.vector_stores.list()]
    bad = http.post(
        "/vector_stores",
        json={
            "file_ids": [file_id],
            "chunking_strategy": {
                "type": "static",
                "static": {"max_chunk_size_tokens": 50, "chunk_overlap_tokens": 0},
            },
        },
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "chunking_strategy.static.max_chunk_size_tokens"
    missing = http.post("/vector_stores", json={"file_ids": ["file-nope"]})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "file_ids[0]"
    deleted = client.vector_stores.delete(store.id)
    assert (deleted.object, deleted.deleted) == ("vector_store.deleted", True)
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.retrieve(store.id)


def test_other_project_cannot_see_stores(
    client: openai.OpenAI, other_client: openai.OpenAI
) -> None:
    store = client.vector_stores.create(name="private")
    with pytest.raises(openai.NotFoundError):
        other_client.vector_stores.retrieve(store.id)
    with pytest.raises(openai.NotFoundError):
        other_client.vector_stores.search(store.id, query="anything")
    assert store.id not in [s.id for s in other_client.vector_stores.list()]
