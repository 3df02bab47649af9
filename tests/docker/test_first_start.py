"""A new user's first start: `assistantd serve` with the default settings (data in `./data`)
runs the model's code, and a missing sandbox image is built on start while the server serves."""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import time
from pathlib import Path

import docker
import httpx
import openai
import pytest
from docker.errors import ImageNotFound

from assistantd.tools.code_interpreter.sandbox import DockerSandbox
from tests.conftest import KEY_A, make_settings
from tests.docker.conftest import IMAGE_TAG, run, sandbox_settings
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.examples import run_example
from tests.support.process import spawn_server
from tests.support.server import run_server

pytestmark = pytest.mark.docker


def code_turn(code: str) -> Turn:
    return Turn(tool_calls=[Call("code_interpreter", json.dumps({"code": code}))])


def test_default_relative_data_dir_runs_code(
    sandbox_image: str, fake: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ASSISTANTD_DATA_DIR` unset means `./data`: the sandbox's bind mounts must still be
    absolute paths, or the engine reads them as volume names and no code ever runs."""
    for name in ("DATA_DIR", "SANDBOX_DIR", "DATABASE_URL", "API_KEYS"):
        monkeypatch.delenv(f"ASSISTANTD_{name}", raising=False)
    env = {
        "ASSISTANTD_SANDBOX_ENABLED": "true",
        "ASSISTANTD_SANDBOX_IMAGE": IMAGE_TAG,
        "ASSISTANTD_SANDBOX_INSTANCE": f"pytest-{secrets.token_hex(4)}",
        "ASSISTANTD_SANDBOX_POOL_SIZE": "1",
        "ASSISTANTD_UPSTREAM_BASE_URL": fake.base_url,
    }
    fake.script(Turn(text="Hello."), code_turn("sum(range(1, 101))"), Turn(text="5050."))
    with spawn_server(env, cwd=tmp_path) as (url, _process):
        result = run_example("code_interpreter_stream.py", f"{url}/v1", "local", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "output >\n\n5050\n" in result.stdout
    assert (tmp_path / "data" / "assistantd.db").is_file()
    assert (tmp_path / "data" / "sandbox").is_dir()


def test_missing_image_is_built_on_start(
    sandbox_image: str,
    docker_api: docker.APIClient,
    fake: FakeUpstream,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An image tag that doesn't exist yet: the server starts, logs the build's progress, and
    serves a code call. (Offline here, from the Debian rootfs the session's image was built
    from, so the build takes about a second.)"""
    tag = f"assistantd-sandbox:pytest-build-{secrets.token_hex(4)}"
    with pytest.raises(ImageNotFound):
        docker_api.inspect_image(tag)
    caplog.set_level(logging.INFO, logger="assistantd")
    settings = make_settings(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        upstream_base_url=fake.base_url,
        sandbox_enabled=True,
        sandbox_image=tag,
        sandbox_instance=f"pytest-{secrets.token_hex(4)}",
        sandbox_pool_size=1,
    )
    try:
        with run_server(settings) as server:
            fake.script(code_turn("print(6 * 7)"), Turn(text="42"))
            with openai.OpenAI(base_url=server.api, api_key=KEY_A, max_retries=0) as client:
                assistant = client.beta.assistants.create(
                    model="gpt-4o", tools=[{"type": "code_interpreter"}]
                )
                run = client.beta.threads.create_and_run_poll(
                    assistant_id=assistant.id,
                    thread={"messages": [{"role": "user", "content": "6 * 7?"}]},
                )
                assert run.status == "completed", run.last_error
                steps = client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id)
                call = steps.data[-1].step_details.tool_calls[0]  # type: ignore[union-attr]
                assert call.code_interpreter.outputs[0].logs == "42\n"  # type: ignore[union-attr]
            deadline = time.monotonic() + 30
            while not (ready := httpx.get(f"{server.url}/readyz").json())["checks"]["sandbox"][
                "available"
            ]:
                assert time.monotonic() < deadline, ready
                time.sleep(0.2)
    finally:
        with contextlib.suppress(ImageNotFound):
            docker_api.remove_image(tag)
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("assistantd")]
    assert any(m.startswith(f"sandbox: image {tag} not found, building it") for m in messages)
    assert any(f"building image {tag} (offline" in m and "step Step " in m for m in messages)
    assert any(m.startswith(f"sandbox: image {tag} built in ") for m in messages)


async def test_status_shows_the_build_and_code_waits_for_it(
    sandbox_image: str, docker_api: docker.APIClient, tmp_path: Path
) -> None:
    """While the image is being built, status() (what /readyz shows) says so with the step,
    and a code call made meanwhile waits for the build, then runs."""
    tag = f"assistantd-sandbox:pytest-build-{secrets.token_hex(4)}"
    sandbox = DockerSandbox(sandbox_settings(tmp_path, sandbox_image=tag))
    try:
        await sandbox.start()
        status = await sandbox.status()  # the build takes ~1 s, this a few ms
        assert status["available"] is False, status
        assert status["reason"].startswith(f"building image {tag} ("), status
        assert status["build"]["state"] == "building"
        result = await run(sandbox, "first-start", "print(6 * 7)")
        assert result.logs == "42\n"
        assert (await sandbox.status())["available"] is True
    finally:
        await sandbox.stop()
        with contextlib.suppress(ImageNotFound):
            docker_api.remove_image(tag)
