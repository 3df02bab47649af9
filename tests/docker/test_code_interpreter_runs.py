"""The code interpreter end to end: the official SDK, a real server, the fake model calling the
`code_interpreter` function, and the real Docker sandbox running the code."""

from __future__ import annotations

import io
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import AssistantEventHandler
from typing_extensions import override

from tests.conftest import KEY_A, make_settings
from tests.docker.conftest import IMAGE_TAG
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.examples import run_example
from tests.support.server import RunningServer, run_server

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def ci_server(
    sandbox_image: str, tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeUpstream
) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("ci-server")
    settings = make_settings(
        data_dir,
        f"sqlite+aiosqlite:///{data_dir / 'db.sqlite'}",
        upstream_base_url=fake_upstream.base_url,
        sandbox_enabled=True,
        sandbox_image=IMAGE_TAG,
        sandbox_instance=f"pytest-runs-{secrets.token_hex(4)}",  # unique: start() sweeps it
        sandbox_pool_size=1,
        sandbox_exec_timeout_s=30.0,
    )
    with run_server(settings) as server:
        yield server


@pytest.fixture
def ci_client(ci_server: RunningServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=ci_server.api, api_key=KEY_A, max_retries=0) as client:
        yield client


def code_call(code: str) -> Call:
    return Call("code_interpreter", json.dumps({"code": code}), chunks=4)


class Printer(AssistantEventHandler):
    """The seed article's handler, recording instead of printing."""

    def __init__(self) -> None:
        super().__init__()
        self.out: list[str] = []

    @override
    def on_text_created(self, text: Any) -> None:
        self.out.append("\nassistant > ")

    @override
    def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        self.out.append(delta.value)

    @override
    def on_tool_call_created(self, tool_call: Any) -> None:
        self.out.append(f"\nassistant > {tool_call.type}\n")

    @override
    def on_tool_call_delta(self, delta: Any, snapshot: Any) -> None:
        if delta.type == "code_interpreter":
            if delta.code_interpreter.input:
                self.out.append(delta.code_interpreter.input)
            if delta.code_interpreter.outputs:
                self.out.append("\n\noutput >")
                for output in delta.code_interpreter.outputs:
                    if output.type == "logs":
                        self.out.append(f"\n{output.logs}")


def _stream(client: openai.OpenAI, thread_id: str, assistant_id: str) -> Printer:
    handler = Printer()
    with client.beta.threads.runs.stream(
        thread_id=thread_id, assistant_id=assistant_id, event_handler=handler
    ) as stream:
        stream.until_done()
    return handler


def test_code_runs_and_streams_input_and_logs(ci_client: openai.OpenAI, fake: FakeUpstream) -> None:
    code = "total = sum(range(1, 101))\nprint(total)"
    fake.script(Turn(tool_calls=[code_call(code)]), Turn(text="The sum is 5050."))
    assistant = ci_client.beta.assistants.create(
        model="gpt-4o", tools=[{"type": "code_interpreter"}]
    )
    thread = ci_client.beta.threads.create(messages=[{"role": "user", "content": "sum 1..100"}])
    printed = "".join(_stream(ci_client, thread.id, assistant.id).out)
    assert "assistant > code_interpreter" in printed
    assert code in printed
    assert "output >\n5050" in printed
    assert printed.endswith("The sum is 5050.")
    run = ci_client.beta.threads.runs.list(thread.id).data[0]
    steps = list(ci_client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc"))
    call = steps[0].step_details.tool_calls[0]  # type: ignore[union-attr]
    assert call.code_interpreter.input == code  # type: ignore[union-attr]
    assert call.code_interpreter.outputs[0].logs == "5050\n"  # type: ignore[union-attr]
    # The model saw the tool's output on its second call.
    tool_message = fake.requests[-1]["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["content"] == "5050\n"
    # Variables persist into the next run of the same thread.
    fake.script(Turn(tool_calls=[code_call("print(total * 2)")]), Turn(text="10100"))
    printed = "".join(_stream(ci_client, thread.id, assistant.id).out)
    assert "output >\n10100" in printed


def test_figure_becomes_image_file(ci_client: openai.OpenAI, fake: FakeUpstream) -> None:
    code = (
        "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\n"
        "plt.title('squares')\nplt.show()"
    )
    fake.script(Turn(tool_calls=[code_call(code)]), Turn(text="Here is the plot."))
    assistant = ci_client.beta.assistants.create(
        model="gpt-4o", tools=[{"type": "code_interpreter"}]
    )
    thread = ci_client.beta.threads.create(messages=[{"role": "user", "content": "plot"}])
    _stream(ci_client, thread.id, assistant.id)
    answer = ci_client.beta.threads.messages.list(thread.id).data[0]
    assert answer.content[0].type == "text"
    image_parts = [part for part in answer.content if part.type == "image_file"]
    assert len(image_parts) == 1
    png = ci_client.files.content(image_parts[0].image_file.file_id).content  # type: ignore[union-attr]
    assert png.startswith(b"\x89PNG")
    file = ci_client.files.retrieve(image_parts[0].image_file.file_id)  # type: ignore[union-attr]
    assert file.purpose == "assistants_output"


def test_csv_attachment_in_and_derived_file_out(
    ci_client: openai.OpenAI, fake: FakeUpstream
) -> None:
    upload = ci_client.files.create(
        file=("sales.csv", io.BytesIO(b"item,qty\na,2\nb,3\n")), purpose="assistants"
    )
    code = (
        "import pandas as pd\ndf = pd.read_csv('/mnt/data/sales.csv')\n"
        "df['double'] = df.qty * 2\ndf.to_csv('doubled.csv', index=False)\nprint(df.qty.sum())"
    )
    answer = "Total 5. [Download the table](sandbox:/mnt/data/doubled.csv)"
    fake.script(Turn(tool_calls=[code_call(code)]), Turn(text=answer))
    assistant = ci_client.beta.assistants.create(
        model="gpt-4o", tools=[{"type": "code_interpreter"}]
    )
    thread = ci_client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": "double the quantities",
                "attachments": [{"file_id": upload.id, "tools": [{"type": "code_interpreter"}]}],
            }
        ]
    )
    printed = "".join(_stream(ci_client, thread.id, assistant.id).out)
    assert "output >\n5" in printed
    message = ci_client.beta.threads.messages.list(thread.id).data[0]
    text = message.content[0].text  # type: ignore[union-attr]
    assert text.value == answer
    (annotation,) = text.annotations
    assert annotation.type == "file_path"
    assert annotation.text == "sandbox:/mnt/data/doubled.csv"
    assert answer[annotation.start_index : annotation.end_index] == annotation.text
    content = ci_client.files.content(annotation.file_path.file_id).content  # type: ignore[union-attr]
    assert content.decode().splitlines() == ["item,qty,double", "a,2,4", "b,3,6"]


def test_user_code_errors_are_outputs_not_failures(
    ci_client: openai.OpenAI, fake: FakeUpstream
) -> None:
    fake.script(Turn(tool_calls=[code_call("1/0")]), Turn(text="Oops, division by zero."))
    assistant = ci_client.beta.assistants.create(
        model="gpt-4o", tools=[{"type": "code_interpreter"}]
    )
    thread = ci_client.beta.threads.create(messages=[{"role": "user", "content": "divide"}])
    _stream(ci_client, thread.id, assistant.id)
    run = ci_client.beta.threads.runs.list(thread.id).data[0]
    assert run.status == "completed"
    assert "ZeroDivisionError" in fake.requests[-1]["messages"][-1]["content"]


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example_output() -> str:
    """The output the README's quick start shows for examples/code_interpreter_stream.py."""
    text = README.read_text(encoding="utf-8")
    start = text.index("examples/code_interpreter_stream.py\n```\n")
    return re.search(r"```text\n(.*?)```", text[start:], re.S).group(1)  # type: ignore[union-attr]


def test_code_interpreter_example_runs_unchanged(
    ci_server: RunningServer, fake: FakeUpstream, tmp_path: Path
) -> None:
    """examples/code_interpreter_stream.py, run as a user runs it, prints what the README says:
    the code as the model writes it, then `output >` and what the real sandbox printed. The
    scripted model says the README's words and writes the README's code."""
    shown = readme_example_output()
    greeting = shown.split("\n", 1)[0].removeprefix("assistant > ")
    code = shown.split("assistant > code_interpreter\n\n", 1)[1].split("\n\noutput >", 1)[0]
    answer = shown.rstrip("\n").rsplit("assistant > ", 1)[1]
    fake.script(Turn(text=greeting), Turn(tool_calls=[code_call(code)]), Turn(text=answer))
    result = run_example("code_interpreter_stream.py", ci_server.api, KEY_A, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip("\n") == shown.strip("\n")
    assert "output >\n\n5050\n" in result.stdout  # computed by the sandbox, not scripted
    # The model saw what the sandbox printed (the last expression's value).
    assert fake.requests[-1]["messages"][-1]["role"] == "tool"
    assert fake.requests[-1]["messages"][-1]["content"] == "5050\n"


def test_sandbox_metrics_move(
    ci_server: RunningServer, ci_client: openai.OpenAI, fake: FakeUpstream
) -> None:
    from tests.e2e.test_metrics import moved, scrape, value

    before = scrape(ci_server.url)
    fake.script(Turn(tool_calls=[code_call("print('metered')")]), Turn(text="done"))
    assistant = ci_client.beta.assistants.create(
        model="gpt-4o", tools=[{"type": "code_interpreter"}]
    )
    thread = ci_client.beta.threads.create(messages=[{"role": "user", "content": "go"}])
    run = ci_client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    assert run.status == "completed"
    after = scrape(ci_server.url)
    assert moved(before, after, "assistantd_sandbox_exec_duration_seconds_count", status="ok") == 1
    assert value(after, "assistantd_sandbox_sessions") >= 1  # this thread's, still warm
