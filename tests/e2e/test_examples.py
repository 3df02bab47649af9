"""The programs of `examples/` run unchanged against a real server (their code-interpreter parts
against the real Docker sandbox are in tests/docker/test_code_interpreter_runs.py)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import KEY_A
from tests.fakes.upstream import FakeUpstream, Turn
from tests.support.examples import EXAMPLES, run_example
from tests.support.server import RunningServer

README = Path(__file__).resolve().parents[2] / "README.md"


def test_code_interpreter_example_streams_text_without_code(
    server: RunningServer, fake: FakeUpstream, tmp_path: Path
) -> None:
    """With a model that answers without calling the tool, the program still runs to its end,
    sending what it asks for (the tool, temperature, truncation) upstream."""
    first, second = "I am your math tutor.", "The sum is 5050."
    fake.script(Turn(text=first, tokens=["I am", " your math", " tutor."]), Turn(text=second))
    done = run_example("code_interpreter_stream.py", server.api, KEY_A, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("assistant > ") == 2
    assert f"assistant > {first}" in done.stdout and f"assistant > {second}" in done.stdout
    assert done.stderr == ""  # no warnings, no tracebacks
    assert len(fake.requests) == 2
    tools = fake.requests[0]["tools"]
    assert tools and tools[0]["function"]["name"] == "code_interpreter"
    last = fake.requests[1]
    assert last["temperature"] == 1.0
    assert [m["role"] for m in last["messages"]] == ["system", "user", "assistant", "user"]


def test_readme_lists_every_example() -> None:
    listed = set(re.findall(r"`([\w.]+\.py)`", (EXAMPLES / "README.md").read_text()))
    assert {p.name for p in EXAMPLES.glob("*.py")} <= listed
    assert "examples/code_interpreter_stream.py" in README.read_text()
