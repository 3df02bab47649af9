"""Images and files in Responses input (`input_image`, `input_file`) through the official SDK:
what the model is sent, what is stored, and the 400s for parts that cannot be used."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import openai
import pytest

from tests.fakes.upstream import FakeUpstream
from tests.unit.test_parsing import _pdf

CAT = "https://example.com/cat.jpg"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


def _user_parts(fake: FakeUpstream) -> list[dict[str, Any]]:
    (user,) = [m for m in fake.requests[-1]["messages"] if m["role"] == "user"]
    parts: list[dict[str, Any]] = user["content"]
    return parts


def test_images_by_file_id_and_by_url(client: openai.OpenAI, fake: FakeUpstream) -> None:
    picture = client.files.create(file=("pic.png", io.BytesIO(PNG)), purpose="vision")
    content: Any = [
        {"type": "input_text", "text": "What is in these?"},
        {"type": "input_image", "file_id": picture.id, "detail": "low"},
        {"type": "input_image", "image_url": CAT},
    ]
    response = client.responses.create(model="gpt-4o", input=[{"role": "user", "content": content}])
    assert response.status == "completed"
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert _user_parts(fake) == [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": data_url, "detail": "low"}},
        {"type": "image_url", "image_url": {"url": CAT, "detail": "auto"}},
    ]
    (item,) = client.responses.input_items.list(response.id).data
    assert item.type == "message"
    parts = item.content  # stored as given, not as sent
    assert parts[1].type == "input_image" and parts[1].file_id == picture.id  # type: ignore[union-attr]
    assert parts[1].image_url is None  # type: ignore[union-attr]

    # The next response of the chain shows the model the same picture again.
    client.responses.create(model="gpt-4o", input="And now?", previous_response_id=response.id)
    first_user = next(m for m in fake.requests[-1]["messages"] if m["role"] == "user")
    assert first_user["content"][1]["image_url"]["url"] == data_url


def test_files_by_file_id_and_by_file_data(client: openai.OpenAI, fake: FakeUpstream) -> None:
    pdf = _pdf(["Invoice 42: total due 17 euros."])
    uploaded = client.files.create(file=("invoice.pdf", io.BytesIO(pdf)), purpose="user_data")
    notes = "# Notes\nThe meeting moved to Friday."
    file_data = "data:text/markdown;base64," + base64.b64encode(notes.encode()).decode()
    content: Any = [
        {"type": "input_file", "file_id": uploaded.id},
        {"type": "input_file", "filename": "notes.md", "file_data": file_data},
        {"type": "input_text", "text": "Summarise both."},
    ]
    client.responses.create(model="gpt-4o", input=[{"role": "user", "content": content}])
    first, second, question = _user_parts(fake)
    assert first["type"] == "text" and first["text"].startswith(f"[file {uploaded.id}]")
    assert "Invoice 42: total due 17 euros." in first["text"]
    assert second == {"type": "text", "text": f"[file notes.md]\n{notes}"}
    assert question == {"type": "text", "text": "Summarise both."}

    counted = client.responses.input_tokens.count(
        model="gpt-4o", input=[{"role": "user", "content": content}]
    )
    plain = client.responses.input_tokens.count(model="gpt-4o", input="Summarise both.")
    assert counted.input_tokens > plain.input_tokens + 10  # the files' text is counted


@pytest.mark.parametrize(
    ("part", "param"),
    [
        ({"type": "input_image", "file_id": "file-nope"}, "input[0].content[0].file_id"),
        ({"type": "input_file", "file_id": "file-nope"}, "input[0].content[0].file_id"),
        ({"type": "input_image"}, "input[0].content[0].image_url"),
        ({"type": "input_file"}, "input[0].content[0].file_id"),
        (
            {"type": "input_file", "file_url": "https://example.com/a.pdf"},
            "input[0].content[0].file_url",
        ),
        (
            {"type": "input_file", "filename": "a.txt", "file_data": "data:text/plain;base64,!!"},
            "input[0].content[0].file_data",
        ),
    ],
)
def test_parts_that_cannot_be_used(http: httpx.Client, part: dict[str, Any], param: str) -> None:
    body = {"model": "gpt-4o", "input": [{"role": "user", "content": [part]}]}
    answer = http.post("/responses", json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param


def test_a_text_file_is_not_an_image_and_files_stay_in_their_project(
    client: openai.OpenAI, other_client: openai.OpenAI
) -> None:
    text = client.files.create(file=("a.txt", io.BytesIO(b"plain words")), purpose="user_data")
    as_image: Any = [{"type": "input_image", "file_id": text.id}]
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(model="gpt-4o", input=[{"role": "user", "content": as_image}])
    assert bad.value.body["param"] == "input[0].content[0].file_id"  # type: ignore[index]
    as_file: Any = [{"type": "input_file", "file_id": text.id}]
    with pytest.raises(openai.BadRequestError) as foreign:
        other_client.responses.create(model="gpt-4o", input=[{"role": "user", "content": as_file}])
    assert "No file found" in foreign.value.message
