"""The first seed's script (a blog post's assistants.py) runs unchanged against assistantd, with
only the base URL changed, up to where it needs the code interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import KEY_A
from tests.fakes.upstream import FakeUpstream, Turn
from tests.support.server import RunningServer

SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "000_445c21ca1d653d53.txt"
START = "assistants.py\nfrom openai import OpenAI"
END = "client.beta.threads.delete(thread_id=thread_idd)"


def seed_script() -> str:
    article = SEED.read_text(encoding="utf-8")
    begin = article.index(START) + len("assistants.py\n")
    return article[begin : article.index(END, begin) + len(END)] + "\n"


def test_seed_script_runs_unchanged(
    server: RunningServer, fake: FakeUpstream, tmp_path: Path
) -> None:
    first, second = "わての名前はChatGPTやで。", "5050やで!"
    fake.script(Turn(text=first, tokens=["わての", "名前は", "ChatGPTやで。"]), Turn(text=second))
    script = tmp_path / "assistants.py"
    script.write_text(seed_script(), encoding="utf-8")
    env = {
        **os.environ,
        "OPENAI_BASE_URL": server.api,
        "OPENAI_API_KEY": KEY_A,
        "PYTHONIOENCODING": "utf-8",
    }
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("assistant > ") == 2
    assert f"assistant > {first}" in done.stdout and f"assistant > {second}" in done.stdout
    assert len(fake.requests) == 2
    tools = fake.requests[0]["tools"]
    assert tools and tools[0]["type"] == "function"  # the code interpreter, offered as a function
    last = fake.requests[1]
    assert last["temperature"] == 1.0
    assert [m["role"] for m in last["messages"]] == ["system", "user", "assistant", "user"]
