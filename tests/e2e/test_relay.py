"""`/chat/completions` and `/embeddings` relayed to the upstream: one client, one base_url."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import KEY_A, SpecChecked, async_sdk
from tests.fakes.upstream import DEFAULT_TEXT, Call, Fail, FakeUpstream, Turn, fake_embedding
from tests.support.server import RunningServer

MESSAGES = [{"role": "user", "content": "Say hello"}]


def test_chat_completion_is_relayed(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Turn(text="Hi there, friend"))
    completion = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, temperature=0.5, max_tokens=7
    )
    assert completion.choices[0].message.content == "Hi there, friend"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens == 3
    assert fake.requests[-1] == {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "temperature": 0.5,
        "max_tokens": 7,
    }
    assert isinstance(client._client, SpecChecked)
    assert client._client.checked == ["CreateChatCompletionResponse"]


def test_chat_completion_tool_calls_pass_through(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Turn(tool_calls=[Call("get_weather", '{"city": "Paris"}', id="call_1")]))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    completion = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, tools=tools, tool_choice="required"
    )
    (call,) = completion.choices[0].message.tool_calls or []
    assert call.id == "call_1" and call.function.name == "get_weather"  # type: ignore[union-attr]
    assert fake.requests[-1]["tools"] == tools
    assert fake.requests[-1]["tool_choice"] == "required"


def test_chat_completion_streams(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Turn(text="one two three"))
    stream = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    assert fake.requests[-1]["stream"] is True


def test_chat_stream_helper(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Turn(text="streamed by the helper"))
    with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == "streamed by the helper"
    assert final.choices[0].message.content == "streamed by the helper"


async def test_async_chat_and_embeddings(server: RunningServer, fake: FakeUpstream) -> None:
    async with async_sdk(server) as client:
        completion = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert completion.choices[0].message.content == DEFAULT_TEXT
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True
        )
        pieces = [c.choices[0].delta.content or "" async for c in stream if c.choices]
        assert "".join(pieces) == DEFAULT_TEXT
        result = await client.embeddings.create(
            model="text-embedding-3-small", input="hello", encoding_format="float"
        )
        assert result.data[0].embedding == fake_embedding("hello")


def test_upstream_errors_keep_openai_envelope(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Fail(404, "The model `nope` does not exist"))
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="nope", messages=MESSAGES)
    assert caught.value.message.endswith("The model `nope` does not exist")
    assert caught.value.body == {  # the SDK hands over the inner error object
        "message": "The model `nope` does not exist",
        "type": "error",
        "param": None,
        "code": None,
    }


def test_failing_upstream_is_a_502_after_retries(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Fail(500), Fail(503), Fail(500, "still down"))  # upstream_max_retries=2
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert caught.value.status_code == 502
    assert "still down" in caught.value.message
    assert len(fake.requests) == 3


def test_non_openai_error_bodies_are_wrapped(http: httpx.Client, fake: FakeUpstream) -> None:
    fake.script(Fail(400, body=b'{"detail": "context too long"}'))
    response = http.post("/chat/completions", json={"model": "m", "messages": MESSAGES})
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "context too long" in error["message"] and error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/chat/completions", {"messages": MESSAGES}, "model"),
        ("/chat/completions", {"model": "gpt-4o"}, "messages"),
        ("/chat/completions", {"model": 5, "messages": MESSAGES}, "model"),
        ("/embeddings", {"model": "text-embedding-3-small"}, "input"),
    ],
)
def test_bad_bodies_are_ours_to_reject(
    http: httpx.Client, fake: FakeUpstream, path: str, body: dict[str, object], param: str
) -> None:
    response = http.post(path, json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert fake.requests == []


def test_invalid_json_and_keys(http: httpx.Client, server: RunningServer) -> None:
    response = http.post("/chat/completions", content=b"{nope")
    assert response.status_code == 400 and "could not parse" in response.json()["error"]["message"]
    response = http.post("/chat/completions", content=b"[1]")
    assert response.status_code == 400
    bad = httpx.post(
        f"{server.api}/embeddings",
        json={"model": "m", "input": "x"},
        headers={"Authorization": "Bearer sk-wrong"},
    )
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_api_key"


def test_embeddings_are_relayed(client: openai.OpenAI, fake: FakeUpstream) -> None:
    result = client.embeddings.create(
        model="text-embedding-3-small", input=["alpha", "beta"], encoding_format="float"
    )
    assert [item.embedding for item in result.data] == [
        fake_embedding("alpha"),
        fake_embedding("beta"),
    ]
    assert result.usage.prompt_tokens == 2
    assert fake.requests[-1]["input"] == ["alpha", "beta"]
    assert isinstance(client._client, SpecChecked)
    assert client._client.checked == ["CreateEmbeddingResponse"]


def test_embeddings_in_the_sdk_default_base64(server: RunningServer, fake: FakeUpstream) -> None:
    # The SDK asks for base64 unless told otherwise (a string the spec's float list can't
    # describe, hence no spec check) and decodes it.
    with openai.OpenAI(base_url=server.api, api_key=KEY_A, max_retries=0) as client:
        result = client.embeddings.create(model="text-embedding-3-small", input="gamma")
    assert fake.requests[-1]["encoding_format"] == "base64"
    assert result.data[0].embedding == pytest.approx(fake_embedding("gamma"))


def test_embedding_errors(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Fail(429, "slow down"), Fail(429, "slow down"), Fail(429, "slow down"))
    with pytest.raises(openai.RateLimitError) as caught:
        client.embeddings.create(model="text-embedding-3-small", input="x", encoding_format="float")
    assert caught.value.message.endswith("slow down")
