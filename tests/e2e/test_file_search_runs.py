"""File search in runs: the fake model searches, the step records the results, the answer's
citation markers become file_citation annotations that the second seed's loop resolves."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.conftest import BLOB_BACKENDS, serve_backend
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.server import RunningServer


@pytest.fixture(scope="module", params=BLOB_BACKENDS)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake_upstream: FakeUpstream,
) -> Iterator[RunningServer]:
    """Ingestion reads the uploaded bytes from the blob store: the local one and S3."""
    yield from serve_backend(request, tmp_path_factory, fake_upstream)


SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
TEA = (
    "Green tea is made from unoxidised leaves. Matcha is a powdered green tea from Japan, "
    "whisked with hot water in the tea ceremony."
)
RUST = "Rust is a systems programming language; ownership and borrowing prevent data races."


def _search(query: str) -> Call:
    return Call("file_search", json.dumps({"queries": [query]}))


def _wait_completed(client: openai.OpenAI, store_id: str) -> None:
    deadline = time.monotonic() + 30
    while client.vector_stores.retrieve(store_id).file_counts.in_progress:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_file_search_run_cites_the_right_file(
    client: openai.OpenAI, fake: FakeUpstream, http: httpx.Client
) -> None:
    tea = client.files.create(file=("tea.txt", io.BytesIO(TEA.encode())), purpose="assistants")
    rust = client.files.create(file=("rust.txt", io.BytesIO(RUST.encode())), purpose="assistants")
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [tea.id, rust.id]}]}},
    )
    store_id = assistant.tool_resources.file_search.vector_store_ids[0]  # type: ignore[union-attr]
    _wait_completed(client, store_id)
    fake.script(
        Turn(tool_calls=[_search("What is matcha?")]),
        Turn(text="Matcha is powdered green tea 【0:0†tea.txt】."),
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "What is matcha?"}])
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        stream.until_done()
    run = stream.get_final_run()
    assert run.status == "completed"
    # The model received the passages with their markers.
    tool_result = fake.requests[-1]["messages"][-1]
    assert tool_result["role"] == "tool" and "【0:0†tea.txt】" in tool_result["content"]
    assert "Matcha" in tool_result["content"]
    # The step records ranking options and results; content only when include[] asks.
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data
    call = steps[0].step_details.tool_calls[0]  # type: ignore[union-attr]
    assert call.type == "file_search"
    assert call.file_search.ranking_options.score_threshold == 0.0  # type: ignore[union-attr]
    results = call.file_search.results  # type: ignore[union-attr]
    assert results[0].file_id == tea.id and results[0].file_name == "tea.txt"
    assert 0 <= results[0].score <= 1 and results[0].content is None
    include = "step_details.tool_calls[*].file_search.results[*].content"
    detailed = http.get(
        f"/threads/{thread.id}/runs/{run.id}/steps/{steps[0].id}", params={"include[]": include}
    ).json()
    content = detailed["step_details"]["tool_calls"][0]["file_search"]["results"][0]["content"]
    assert "Matcha" in content[0]["text"]
    # The answer's marker is a citation of tea.txt; the second seed's loop resolves it.
    message = client.beta.threads.messages.list(thread.id).data[0]
    text = message.content[0].text  # type: ignore[union-attr]
    (annotation,) = text.annotations
    assert annotation.type == "file_citation" and annotation.text == "【0:0†tea.txt】"
    assert annotation.file_citation.file_id == tea.id  # type: ignore[union-attr]
    citations = []
    for index, found in enumerate(text.annotations):
        text.value = text.value.replace(found.text, f" [{index}]")
        if file_citation := getattr(found, "file_citation", None):
            cited_file = client.files.retrieve(file_citation.file_id)
            citations.append(f"[{index}] {file_citation.quote} from {cited_file.filename}")
    assert text.value == "Matcha is powdered green tea  [0]."
    assert citations[0].startswith("[0] Green tea is made") and citations[0].endswith("tea.txt")


def test_attachment_makes_a_thread_store(client: openai.OpenAI, fake: FakeUpstream) -> None:
    rust = client.files.create(file=("rust.txt", io.BytesIO(RUST.encode())), purpose="assistants")
    thread = client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": "Tell me about data races",
                "attachments": [{"file_id": rust.id, "tools": [{"type": "file_search"}]}],
            }
        ]
    )
    store_ids = thread.tool_resources.file_search.vector_store_ids  # type: ignore[union-attr]
    assert len(store_ids) == 1
    store = client.vector_stores.retrieve(store_ids[0])
    assert store.expires_after is not None and store.expires_after.days == 7
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[{"type": "file_search"}])
    _wait_completed(client, store_ids[0])
    fake.script(Turn(tool_calls=[_search("data races")]), Turn(text="Ownership 【0:0†rust.txt】"))
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed"
    message = client.beta.threads.messages.list(thread.id).data[0]
    annotation = message.content[0].text.annotations[0]  # type: ignore[union-attr]
    assert annotation.file_citation.file_id == rust.id  # type: ignore[union-attr]


def test_unknown_vector_store_is_rejected(http: httpx.Client) -> None:
    response = http.post(
        "/assistants",
        json={
            "model": "gpt-4o",
            "tool_resources": {"file_search": {"vector_store_ids": ["vs_nope"]}},
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "tool_resources.file_search.vector_store_ids"


def test_run_create_include_shows_search_content_in_the_stream(
    client: openai.OpenAI, fake: FakeUpstream
) -> None:
    tea = client.files.create(file=("tea.txt", io.BytesIO(TEA.encode())), purpose="assistants")
    store = client.vector_stores.create(file_ids=[tea.id])
    _wait_completed(client, store.id)
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )

    def streamed_content(**include: object) -> list[object]:
        fake.script(Turn(tool_calls=[_search("matcha")]), Turn(text="Matcha."))
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "matcha?"}])
        found = []
        with client.beta.threads.runs.stream(
            thread_id=thread.id,
            assistant_id=assistant.id,
            **include,  # type: ignore[arg-type]
        ) as stream:
            for event in stream:
                if event.event == "thread.run.step.completed":
                    details = event.data.step_details
                    if details.type == "tool_calls":
                        found += [r.content for r in details.tool_calls[0].file_search.results]  # type: ignore[union-attr]
        return found

    assert streamed_content() and all(c is None for c in streamed_content())
    with_content = streamed_content(include=[SEARCH_CONTENT])
    assert with_content and "Matcha" in with_content[0][0].text  # type: ignore[index]


def test_unknown_include_is_400(client: openai.OpenAI, http: httpx.Client) -> None:
    thread = client.beta.threads.create()
    assistant = client.beta.assistants.create(model="gpt-4o")
    created = http.post(
        f"/threads/{thread.id}/runs",
        params={"include[]": "step_details.nope"},
        json={"assistant_id": assistant.id},
    )
    assert created.status_code == 400, created.text
    assert created.json()["error"]["param"] == "include"
    assert client.beta.threads.runs.list(thread.id).data == []
    listed = http.get(f"/threads/{thread.id}/runs/run_x/steps", params={"include[]": "x"})
    assert listed.status_code == 400 and listed.json()["error"]["code"] == "invalid_value"
