"""The first seed article's script (shared/seeds/000_...), extracted and run unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "000_445c21ca1d653d53.txt"
START = "assistants.py\nfrom openai import OpenAI\n"
END = "response = client.beta.threads.delete(thread_id=thread_idd)\n"


def seed_script() -> str:
    text = SEED.read_text()
    start = text.index(START) + len("assistants.py\n")
    return text[start : text.index(END, start) + len(END)]


def run_seed_script(base_url: str, api_key: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run the script as its author did (`python assistants.py`); only the SDK's base URL and
    key come from the environment, which `OpenAI()` reads."""
    script = workdir / "assistants.py"
    script.write_text(seed_script())
    env = {
        **os.environ,
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": api_key,
        "PYTHONWARNINGS": "ignore",
    }
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
        timeout=120,
        check=False,
    )
