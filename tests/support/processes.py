"""`assistantd serve` as a real separate process (a node), configured by environment only, as a
deployment (or docker compose) configures it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.server import free_port


def settings_env(values: Mapping[str, object]) -> dict[str, str]:
    """Settings fields (`s3_bucket`) as the server's environment (`ASSISTANTD_S3_BUCKET`)."""
    return {f"ASSISTANTD_{name.upper()}": str(value) for name, value in values.items()}


@contextmanager
def server_process(
    env: Mapping[str, str],
    data_dir: Path,
    command: Callable[[int], list[str]] | None = None,
) -> Iterator[str]:
    """Start `python -m assistantd serve` (or `command(port)`) on a free port; yield its base
    URL; stop it."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    full_env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("ASSISTANTD_")},
        "ASSISTANTD_DATA_DIR": str(data_dir),
        **env,
    }
    log = (data_dir / "server.log").open("wb")
    serve = [sys.executable, "-m", "assistantd", "serve", "--host", "127.0.0.1"]
    argv = command(port) if command else [*serve, "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(
        argv,
        env=full_env,
        cwd=data_dir,  # no .env of the checkout is read
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                output = (data_dir / "server.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the server process did not start:\n{output}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
