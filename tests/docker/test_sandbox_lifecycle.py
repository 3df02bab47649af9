"""Lifecycle: container death, orphans, reaping, the warm pool, failing closed."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import docker
import pytest

from assistantd.settings import Settings
from assistantd.tools.code_interpreter import docker_config as dc
from assistantd.tools.code_interpreter.events import SandboxUnavailable
from assistantd.tools.code_interpreter.sandbox import DockerSandbox

from .conftest import SandboxFactory, run, wait_for

pytestmark = pytest.mark.docker


def labelled(api: docker.APIClient, **labels: str) -> list[str]:
    filters = [f"{dc.LABEL_SANDBOX}=1", *(f"{k}={v}" for k, v in labels.items())]
    return [c["Id"] for c in api.containers(all=True, filters={"label": filters})]


async def test_container_killed_from_outside_is_reported(
    sandbox: DockerSandbox, docker_api: docker.APIClient
) -> None:
    await run(sandbox, "life-kill", "open('f.txt', 'w').write('kept'); q = 1")
    task = asyncio.create_task(run(sandbox, "life-kill", "import time; time.sleep(60)"))
    await asyncio.sleep(0.5)
    container_id = sandbox._sessions["life-kill"].id
    docker_api.kill(container_id)
    result = await asyncio.wait_for(task, 10)
    assert result.status == "killed"
    after = await run(sandbox, "life-kill", "print(open('f.txt').read(), 'q' in globals())")
    assert after.logs == "kept False\n"
    assert after.done is not None and after.done.session_reset
    assert sandbox._sessions["life-kill"].id != container_id
    await wait_for(
        lambda: (
            not labelled(docker_api, **{dc.LABEL_RUN: sandbox.run_id})
            or container_id not in labelled(docker_api, **{dc.LABEL_RUN: sandbox.run_id})
        )
    )


async def test_orphans_swept_on_start(
    make_sandbox: SandboxFactory, docker_api: docker.APIClient
) -> None:
    instance = f"orphan-test-{secrets.token_hex(4)}"  # unique: start() sweeps it
    crashed = await make_sandbox(sandbox_instance=instance, sandbox_pool_size=1)
    await run(crashed, "life-orphan", "print(1)")
    await wait_for(lambda: len(crashed._pool) == 1)
    # Simulate a crash: the process goes away without removing its containers.
    crashed._running = False
    for task in crashed._tasks:
        task.cancel()
    for container in [*crashed._sessions.values(), *crashed._pool]:
        await container.close()
    crashed._sessions.clear()
    crashed._pool.clear()
    assert len(labelled(docker_api, **{dc.LABEL_RUN: crashed.run_id})) == 2
    await make_sandbox(sandbox_instance=instance, sandbox_pool_size=0)
    assert labelled(docker_api, **{dc.LABEL_RUN: crashed.run_id}) == []


async def test_stop_removes_everything(
    make_sandbox: SandboxFactory, docker_api: docker.APIClient
) -> None:
    sandbox = await make_sandbox(sandbox_pool_size=1)
    await run(sandbox, "life-stop", "print(1)")
    await wait_for(lambda: len(sandbox._pool) == 1)
    assert len(labelled(docker_api, **{dc.LABEL_RUN: sandbox.run_id})) == 2
    await sandbox.stop()
    assert labelled(docker_api, **{dc.LABEL_RUN: sandbox.run_id}) == []
    with pytest.raises(SandboxUnavailable):
        await run(sandbox, "life-stop", "print(1)")


async def test_idle_reaper_removes_container(
    make_sandbox: SandboxFactory, docker_api: docker.APIClient
) -> None:
    sandbox = await make_sandbox(sandbox_idle_timeout_s=1.0, sandbox_reap_interval_s=0.3)
    await run(sandbox, "life-idle", "open('stay.txt', 'w').write('1'); w = 1")
    container_id = sandbox._sessions["life-idle"].id
    await wait_for(
        lambda: container_id not in labelled(docker_api, **{dc.LABEL_RUN: sandbox.run_id}),
        within=10,
    )
    assert "life-idle" not in sandbox._sessions
    after = await run(sandbox, "life-idle", "print(open('stay.txt').read(), 'w' in globals())")
    assert after.logs == "1 False\n" and after.done is not None and after.done.session_reset


async def test_max_life(make_sandbox: SandboxFactory) -> None:
    sandbox = await make_sandbox(sandbox_max_life_s=1.0, sandbox_reap_interval_s=0.3)
    await run(sandbox, "life-max", "print(1)")
    for _ in range(8):  # busy all the time, but not older than max life
        await run(sandbox, "life-max", "pass")
        await asyncio.sleep(0.2)
    await wait_for(lambda: "life-max" not in sandbox._sessions, within=10)


async def test_pool_containers_never_reused(
    make_sandbox: SandboxFactory, docker_api: docker.APIClient
) -> None:
    sandbox = await make_sandbox(sandbox_pool_size=2)
    await wait_for(lambda: len(sandbox._pool) == 2, within=30)
    pool_ids = {c.id for c in sandbox._pool}
    await sandbox.put_file("life-pool-1", "in.txt", b"uploaded before the first call")
    first = await run(sandbox, "life-pool-1", "print(open('in.txt').read())")
    assert first.logs == "uploaded before the first call\n"
    used = sandbox._sessions["life-pool-1"].id
    assert used in pool_ids
    # The warm container had pandas and matplotlib imported already.
    warm = await run(sandbox, "life-pool-1", "import sys; 'pandas' in sys.modules")
    assert warm.logs == "True\n"
    await sandbox.close_session("life-pool-1")
    assert used not in labelled(docker_api, **{dc.LABEL_RUN: sandbox.run_id})
    await wait_for(lambda: len(sandbox._pool) == 2, within=30)
    seen = {used}
    for key in ("life-pool-2", "life-pool-3", "life-pool-4"):
        await run(sandbox, key, "print(1)")
        container_id = sandbox._sessions[key].id
        assert container_id not in seen
        seen.add(container_id)
    other = await run(sandbox, "life-pool-2", "import os; os.listdir('.')")
    assert other.logs == "[]\n"


async def test_fails_closed_without_engine(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(
        _env_file=None, data_dir=tmp_path, sandbox_docker_url="unix:///nonexistent/docker.sock"
    )
    sandbox = DockerSandbox(settings)
    await sandbox.start()
    status = await sandbox.status()
    assert status["available"] is False and "unreachable" in status["reason"]
    with pytest.raises(SandboxUnavailable, match="unreachable"):
        await run(sandbox, "life-closed", "print(1)")
    await sandbox.stop()


async def test_fails_closed_without_image(tmp_path, docker_api: docker.APIClient) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        sandbox_image="assistantd-sandbox:does-not-exist",
        sandbox_build=False,  # else it is built (tests/docker/test_first_start.py)
    )
    sandbox = DockerSandbox(settings)
    await sandbox.start()
    status = await sandbox.status()
    assert status["available"] is False and "not found" in status["reason"]
    with pytest.raises(SandboxUnavailable, match="not found"):
        await run(sandbox, "life-noimage", "print(1)")
    await sandbox.stop()


async def test_server_restart_keeps_files_and_reports_reset(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    first = await make_sandbox(data_dir=tmp_path)
    await run(first, "life-restart", "open('a.txt', 'w').write('A'); r = 1")
    await first.stop()
    second = await make_sandbox(data_dir=tmp_path)
    after = await run(second, "life-restart", "print(open('a.txt').read(), 'r' in globals())")
    assert after.logs == "A False\n"
    assert after.done is not None and after.done.session_reset
    await second.close_session("life-restart", delete_files=True)
    assert not (tmp_path / "sandbox" / "life-restart").exists()
    fresh = await run(second, "life-restart", "print(1)")
    assert fresh.done is not None and not fresh.done.session_reset
