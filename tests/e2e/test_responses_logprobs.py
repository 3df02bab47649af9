"""`include: ["message.output_text.logprobs"]` and `top_logprobs`, as OpenAI serves them: the
model's chat-completions logprobs relayed into the output text, its delta and done events."""

from __future__ import annotations

import httpx
import openai

from tests.fakes.upstream import FakeUpstream, Turn, logprob_of
from tests.support.sse import post_stream, validate_response_events

INCLUDE = ["message.output_text.logprobs"]


def test_logprobs_of_the_output_text(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Turn(text="tea is green"))
    response = client.responses.create(
        model="gpt-4o",
        input="colour?",
        include=INCLUDE,
        top_logprobs=2,  # type: ignore[list-item]
    )
    assert fake.requests[-1]["logprobs"] is True and fake.requests[-1]["top_logprobs"] == 2
    assert response.top_logprobs == 2
    (part,) = response.output[0].content  # type: ignore[union-attr]
    assert part.type == "output_text" and part.text == "tea is green"
    expected = [logprob_of(token, 2) for token in ("tea", " is", " green")]
    assert [lp.model_dump() for lp in part.logprobs or []] == expected
    again = client.responses.retrieve(response.id)  # stored with them
    assert again.output[0].content[0].logprobs == part.logprobs  # type: ignore[union-attr]


def test_logprobs_without_alternatives(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Turn(text="yes"))
    response = client.responses.create(model="gpt-4o", input="?", include=INCLUDE)  # type: ignore[list-item]
    assert "top_logprobs" not in fake.requests[-1]
    (part,) = response.output[0].content  # type: ignore[union-attr]
    assert [lp.model_dump() for lp in part.logprobs or []] == [logprob_of("yes", 0)]


def test_no_logprobs_unless_included(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Turn(text="plain text"))
    response = client.responses.create(model="gpt-4o", input="?", top_logprobs=3)
    assert "logprobs" not in fake.requests[-1]
    assert response.output[0].content[0].logprobs == []  # type: ignore[union-attr]


def test_streamed_deltas_carry_their_logprobs(http: httpx.Client, fake: FakeUpstream) -> None:
    fake.script(Turn(text="one two three"))
    body = {"model": "gpt-4o", "input": "count", "include": INCLUDE, "top_logprobs": 1}
    events = post_stream(http, "/responses", body)
    validate_response_events(events)
    deltas = [data for name, data in events if name == "response.output_text.delta"]
    assert [d["logprobs"] for d in deltas] == [[logprob_of(d["delta"], 1)] for d in deltas] and len(
        deltas
    ) == 3
    [done] = [data for name, data in events if name == "response.output_text.done"]
    assert done["logprobs"] == [lp for d in deltas for lp in d["logprobs"]]
    completed = events[-1][1]["response"]
    assert completed["output"][0]["content"][0]["logprobs"] == done["logprobs"]


def test_top_logprobs_out_of_range(http: httpx.Client) -> None:
    for value in (21, -1):
        body = {"model": "gpt-4o", "input": "x", "top_logprobs": value}
        response = http.post("/responses", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == "top_logprobs"
