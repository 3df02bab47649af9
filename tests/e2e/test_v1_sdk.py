"""The v1-era SDK (openai 1.20.0, its own venv) against a real server: our v1 example program
unchanged, a `retrieval` assistant answering from its files with citations (the seed's
annotation loop reads `file_citation.quote`), streaming with the SDK's AssistantEventHandler
(`create_and_stream` and `stream`), and every JSON answer valid against the v1 schemas."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KEY_A
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.examples import run_example
from tests.support.server import RunningServer
from tests.support.spec_v1 import validate_v1

OPENAI1_PYTHON = Path(__file__).resolve().parents[2] / ".venv-openai1" / "bin" / "python"
pytestmark = pytest.mark.skipif(
    not OPENAI1_PYTHON.exists() and not os.environ.get("CI"),
    reason="the openai 1.20 SDK venv (.venv-openai1) is made by scripts/test",
)

# Records every JSON answer the 1.20 SDK gets, for the v1 schema check in the test.
RECORDER = """
import json, sys, httpx, openai
seen = []
def keep(response):
    if response.headers.get("content-type", "").startswith("application/json"):
        response.read()
        seen.append([response.request.method, response.request.url.path, response.json()])
client = openai.OpenAI(
    base_url=sys.argv[1], api_key=sys.argv[2], max_retries=0,
    http_client=httpx.Client(event_hooks={"response": [keep]}),
)
assert openai.__version__ == "1.20.0", openai.__version__
"""

RETRIEVAL = """
import io
policy = client.files.create(
    file=("policy.txt", io.BytesIO(b"Damaged items may be refunded within 30 days of delivery.")),
    purpose="assistants",
)
assistant = client.beta.assistants.create(
    model="gpt-4o", tools=[{"type": "retrieval"}], file_ids=[policy.id]
)
thread = client.beta.threads.create(
    messages=[{"role": "user", "content": "Can I get a refund for a damaged item?"}]
)
run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
message = client.beta.threads.messages.list(thread_id=thread.id).data[0]
message_content = message.content[0].text
citations = []
for index, annotation in enumerate(message_content.annotations):
    message_content.value = message_content.value.replace(annotation.text, f" [{index}]")
    if (file_citation := getattr(annotation, "file_citation", None)):
        cited_file = client.files.retrieve(file_citation.file_id)
        citations.append(f"[{index}] {file_citation.quote} from {cited_file.filename}")
message_content.value += "\\n" + "\\n".join(citations)
steps = client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id)
calls = [c.type for s in steps for c in getattr(s.step_details, "tool_calls", [])]
print(json.dumps({"status": run.status, "text": message_content.value, "calls": calls,
                  "file_ids": run.file_ids, "seen": seen}))
"""

STREAMING = """
from openai import AssistantEventHandler
class Handler(AssistantEventHandler):
    def __init__(self):
        super().__init__()
        self.text = []
    def on_text_created(self, text):
        self.text.append("assistant > ")
    def on_text_delta(self, delta, snapshot):
        self.text.append(delta.value)
assistant = client.beta.assistants.create(model="gpt-4o", instructions="Be brief.")
thread = client.beta.threads.create()
client.beta.threads.messages.create(thread_id=thread.id, role="user", content="Hello")
first = Handler()
with client.beta.threads.runs.create_and_stream(
    thread_id=thread.id, assistant_id=assistant.id, event_handler=first
) as stream:
    stream.until_done()
final = stream.get_final_run()
client.beta.threads.messages.create(thread_id=thread.id, role="user", content="Again")
second = Handler()
with client.beta.threads.runs.stream(
    thread_id=thread.id, assistant_id=assistant.id, event_handler=second,
    max_completion_tokens=256,
) as stream:
    stream.until_done()
cut = stream.get_final_run()
print(json.dumps({"first": "".join(first.text), "status": final.status,
                  "second": "".join(second.text), "cut": [cut.status, cut.incomplete_details.reason
                  if cut.incomplete_details else None], "seen": seen}))
"""


FILES_AND_FUNCTIONS = """
import io
doc = client.files.create(file=("a.txt", io.BytesIO(b"alpha")), purpose="assistants")
other = client.files.create(file=("b.txt", io.BytesIO(b"beta")), purpose="assistants")
assistant = client.beta.assistants.create(
    model="gpt-4o", tools=[{"type": "code_interpreter"}, {"type": "function", "function": {
        "name": "get_weather", "parameters": {"type": "object", "properties": {}}}}],
)
made = client.beta.assistants.files.create(assistant_id=assistant.id, file_id=doc.id)
client.beta.assistants.files.create(assistant_id=assistant.id, file_id=other.id)
listed = [f.id for f in client.beta.assistants.files.list(assistant_id=assistant.id, order="asc")]
got = client.beta.assistants.files.retrieve(assistant_id=assistant.id, file_id=doc.id)
gone = client.beta.assistants.files.delete(assistant_id=assistant.id, file_id=doc.id)
after = client.beta.assistants.retrieve(assistant.id).file_ids
run = client.beta.threads.create_and_run_poll(
    assistant_id=assistant.id,
    thread={"messages": [{"role": "user", "content": "Weather?", "file_ids": [other.id]}]},
)
calls = run.required_action.submit_tool_outputs.tool_calls
run = client.beta.threads.runs.submit_tool_outputs_and_poll(
    thread_id=run.thread_id, run_id=run.id,
    tool_outputs=[{"tool_call_id": calls[0].id, "output": "sunny"}],
)
first = client.beta.threads.messages.list(thread_id=run.thread_id, order="asc").data[0]
message_files = [f.id for f in client.beta.threads.messages.files.list(
    thread_id=run.thread_id, message_id=first.id)]
one = client.beta.threads.messages.files.retrieve(
    thread_id=run.thread_id, message_id=first.id, file_id=other.id)
print(json.dumps({"made": [made.id, made.object, made.assistant_id == assistant.id],
    "listed": listed == [doc.id, other.id], "got": got.id == doc.id, "gone": gone.deleted,
    "after": after == [other.id], "status": run.status, "run_files": run.file_ids == [other.id],
    "message_files": message_files == [other.id], "one": [one.object, one.message_id == first.id],
    "seen": seen}))
"""


def run_v1(server: RunningServer, body: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(OPENAI1_PYTHON), "-W", "ignore", "-c", RECORDER + body, server.api, KEY_A],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


BY_OBJECT = {
    "assistant": "AssistantObject",
    "thread": "ThreadObject",
    "thread.message": "MessageObject",
    "thread.run": "RunObject",
    "thread.run.step": "RunStepObject",
    "assistant.file": "AssistantFileObject",
    "thread.message.file": "MessageFileObject",
}
LISTS = {
    "thread.message": "ListMessagesResponse",
    "thread.run": "ListRunsResponse",
    "thread.run.step": "ListRunStepsResponse",
    "assistant": "ListAssistantsResponse",
    "thread": "ListThreadsResponse",
    "assistant.file": "ListAssistantFilesResponse",
    "thread.message.file": "ListMessageFilesResponse",
}


def check_v1(seen: list[list[Any]]) -> int:
    """Validate each recorded Assistants answer against its v1 schema (by its `object`)."""
    checked = 0
    for _method, path, body in seen:
        if not path.startswith(("/v1/assistants", "/v1/threads")):
            continue
        kind = body.get("object")
        if kind == "list" and body["data"]:
            validate_v1(LISTS[body["data"][0]["object"]], body)
        elif kind in BY_OBJECT:
            validate_v1(BY_OBJECT[kind], body)
        else:
            continue
        checked += 1
    return checked


def test_retrieval_assistant_answers_with_citations(
    server: RunningServer, fake: FakeUpstream
) -> None:
    fake.script(
        Turn(tool_calls=[Call("file_search", json.dumps({"queries": ["refund damaged item"]}))]),
        Turn(text="Yes, within 30 days【0:0†policy.txt】."),
    )
    result = run_v1(server, RETRIEVAL)
    assert result["status"] == "completed" and result["calls"] == ["retrieval"]
    text = result["text"]
    assert text.startswith("Yes, within 30 days [0].")
    assert "[0] Damaged items may be refunded within 30 days of delivery. from policy.txt" in text
    assert len(result["file_ids"]) == 1
    # the model got the passage it cites
    tool_message = fake.requests[-1]["messages"][-1]
    assert tool_message["role"] == "tool" and "refunded within 30 days" in tool_message["content"]
    assert check_v1(result["seen"]) >= 5


def test_streaming_with_the_v1_event_handler(server: RunningServer, fake: FakeUpstream) -> None:
    fake.script(
        Turn(text="Hello there!", tokens=["Hello", " there", "!"]),
        Turn(text="cut", finish_reason="length"),
    )
    result = run_v1(server, STREAMING)
    assert result["first"] == "assistant > Hello there!" and result["status"] == "completed"
    # a token-limited run ends the stream as v1 knows it: completed, with the reason
    assert result["second"] == "assistant > cut"
    assert result["cut"] == ["completed", "max_completion_tokens"]
    assert check_v1(result["seen"]) >= 3


def test_assistant_files_message_files_and_tool_outputs(
    server: RunningServer, fake: FakeUpstream
) -> None:
    fake.script(Turn(tool_calls=[Call("get_weather", "{}")]), Turn(text="It is sunny."))
    result = run_v1(server, FILES_AND_FUNCTIONS)
    seen = result.pop("seen")
    assert result == {
        "made": [result["made"][0], "assistant.file", True],
        "listed": True,
        "got": True,
        "gone": True,
        "after": True,
        "status": "completed",
        "run_files": True,
        "message_files": True,
        "one": ["thread.message.file", True],
    }
    assert check_v1(seen) >= 8


def test_v1_example_program_runs_unchanged(
    server: RunningServer, fake: FakeUpstream, tmp_path: Path
) -> None:
    """Without a sandbox here the fake model answers in words; tests/docker runs the code."""
    fake.script(Turn(text="The north region sold more."))
    done = run_example(
        "v1_file_program.py", server.api, KEY_A, cwd=tmp_path, python=str(OPENAI1_PYTHON)
    )
    assert done.returncode == 0, done.stderr
    assert "run: completed" in done.stdout
    assert "The north region sold more." in done.stdout
    attachments = [m for m in fake.requests[-1]["messages"] if m["role"] == "user"]
    assert "Total the sales" in str(attachments[0]["content"])
