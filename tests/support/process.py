"""assistantd as a separate OS process (`python -m assistantd serve`), for crash tests and
benchmarks: it can be SIGKILLed, and its CPU time read from /proc."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

import httpx

from tests.support.server import free_port

_live: set[subprocess.Popen[bytes]] = set()


def dump_all() -> None:
    """Ask each live server process for its threads' and tasks' stacks (on its stderr; the
    served CLI answers SIGUSR1, see assistantd/observability/dumps.py)."""
    for process in list(_live):
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGUSR1)


ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def spawn_server(
    env: Mapping[str, str],
    *,
    log_level: str = "warning",
    quiet: bool = False,
    stderr: IO[bytes] | None = None,
    cwd: Path = ROOT,
    command: Callable[[int], list[str]] | None = None,
    start_s: float = 60,  # a busy machine
    args: Sequence[str] = (),
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Yield (base url, process); `env` holds ASSISTANTD_* settings; `stderr` catches the logs;
    `cwd` is where it starts (relative settings such as the default `./data` are relative to
    it); `command(port)` replaces `python -m assistantd serve` (e.g. a compose file's)."""
    port = free_port()
    # No sandbox unless asked: a SIGKILLed server would leave its warm-pool containers behind.
    full = {
        **os.environ,
        "ASSISTANTD_SANDBOX_ENABLED": "false",
        "ASSISTANTD_DRAIN_WINDOW_S": "2",  # SIGTERM at the end: a short drain
        **env,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
    }
    argv = (
        command(port)
        if command is not None
        else [
            sys.executable,
            "-m",
            "assistantd",
            "serve",
            "--port",
            str(port),
            "--log-level",
            log_level,
            *args,
        ]
    )
    output = subprocess.DEVNULL if quiet else None
    process = subprocess.Popen(argv, env=full, cwd=cwd, stdout=output, stderr=stderr or output)
    url = f"http://127.0.0.1:{port}"
    _live.add(process)
    try:
        deadline = time.monotonic() + start_s
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("assistantd did not start")
            time.sleep(0.05)
        yield url, process
    finally:
        _live.discard(process)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def settings_env(values: Mapping[str, object]) -> dict[str, str]:
    """Settings fields (`s3_bucket`) as the server's environment (`ASSISTANTD_S3_BUCKET`)."""
    return {f"ASSISTANTD_{name.upper()}": str(value) for name, value in values.items()}


@contextmanager
def spawn_nodes(
    env: Mapping[str, str], roles: Sequence[str], **options: Any
) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    """Several nodes sharing `env` (one PostgreSQL database): one process per entry of `roles`
    (`all`, `api` or `worker`), each on its own port; yields their (url, process)."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(spawn_server(env, args=("--role", role), **options))
            for role in roles
        ]
