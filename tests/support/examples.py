"""Run a program of `examples/` as a user would (`python examples/<name>`), unchanged: only the
SDK's base URL and key come from the environment, which `OpenAI()` reads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(
    name: str,
    base_url: str,
    api_key: str,
    *,
    cwd: Path,
    python: str = sys.executable,
    timeout_s: float = 180,
) -> subprocess.CompletedProcess[str]:
    """Run `examples/<name>` from `cwd` with `python`; return the finished process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PYTHONWARN"))}
    env.update(
        {"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": api_key, "PYTHONIOENCODING": "utf-8"}
    )
    return subprocess.run(
        [python, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout_s,
        check=False,
    )
