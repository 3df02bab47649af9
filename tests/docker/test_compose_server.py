"""The compose service's code interpreter, run for real: the server in a container, driving its
sandboxes through the host's Docker socket, with the thread folders at the same path on both
sides, exactly as docker-compose.yml sets it up.

`docker compose up` itself can't run here: its builds pull base images from a registry, and
none is reachable. So the container is made from the compose file's resolved settings (user,
environment, mounts) with three stand-ins: the offline sandbox base image (Debian's Python)
with this checkout and its virtualenv mounted in place of the server image, SQLite in place of
the PostgreSQL service, and the host's network so the fake upstream is reachable.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import openai
import pytest
from docker.errors import NotFound

from assistantd.tools.code_interpreter import docker_config as dc
from assistantd.tools.code_interpreter.image import ensure_base
from tests.conftest import KEY_A
from tests.docker.conftest import IMAGE_TAG
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.compose import ROOT, bind_mounts, compose_config
from tests.support.server import free_port

pytestmark = pytest.mark.docker


def _python_mounts(client: docker.DockerClient, base: str) -> list[str]:
    """The test's interpreter in the container: its install when it isn't the system's, else
    the base image's own python3, which must then be the same version."""
    if sys.base_prefix != "/usr":
        return [f"{sys.base_prefix}:{sys.base_prefix}:ro"]
    inside = client.containers.run(
        base, ["python3", "-c", "import sys; print(sys.version_info[:2])"], remove=True
    )
    if inside.decode().strip() != str(tuple(sys.version_info[:2])):
        pytest.skip(f"this host's Python differs from the Debian image's ({inside!r})")
    return []


@pytest.fixture
def compose_server(
    sandbox_image: str, fake: FakeUpstream, tmp_path: Path
) -> Iterator[tuple[str, str]]:
    client = docker.from_env(timeout=120)
    base = ensure_base(client)
    sandbox_dir = str(tmp_path / "sandbox-host")
    service = compose_config(ASSISTANTD_SANDBOX_HOST_DIR=sandbox_dir)["services"]["assistantd"]
    instance = f"pytest-compose-{secrets.token_hex(4)}"
    environment = {
        **service["environment"],
        "ASSISTANTD_DATA_DIR": "/data",  # as the server image sets it
        "ASSISTANTD_DATABASE_URL": "sqlite+aiosqlite:////data/assistantd.db",
        "ASSISTANTD_UPSTREAM_BASE_URL": fake.base_url,
        "ASSISTANTD_API_KEYS": KEY_A,
        "ASSISTANTD_SANDBOX_IMAGE": IMAGE_TAG,
        "ASSISTANTD_SANDBOX_INSTANCE": instance,
        "ASSISTANTD_SANDBOX_POOL_SIZE": "1",
    }
    mounts = bind_mounts(service)
    assert mounts.pop("assistantd-data") == "/data"  # the named volume: a folder here instead
    (tmp_path / "data").mkdir()
    volumes = [f"{source}:{target}" for source, target in mounts.items()]
    volumes += [f"{tmp_path / 'data'}:/data", f"{ROOT}:{ROOT}:ro"]
    volumes += _python_mounts(client, base)
    port = free_port()
    container = client.containers.run(
        base,
        [f"{ROOT}/.venv/bin/python", "-m", "assistantd", "serve", "--port", str(port)],
        user=service["user"],
        environment=environment,
        volumes=volumes,
        network_mode="host",
        working_dir="/data",
        detach=True,
        labels={"assistantd.test": instance},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).json()["checks"]["sandbox"]["available"]:
                    break
            except (httpx.TransportError, KeyError, ValueError):
                pass
            container.reload()
            assert container.status == "running", container.logs().decode()[-3000:]
            assert time.monotonic() < deadline, container.logs().decode()[-3000:]
            time.sleep(0.3)
        yield url, instance
        container.stop(timeout=20)  # SIGTERM: the server removes its sandboxes
        assert container.wait(timeout=30)["StatusCode"] == 0, container.logs().decode()[-3000:]
    finally:
        with contextlib.suppress(NotFound):
            container.remove(force=True)
        for leftover in client.containers.list(
            all=True, filters={"label": f"{dc.LABEL_INSTANCE}={instance}"}
        ):
            leftover.remove(force=True)
        client.close()


def test_compose_server_runs_code_in_sibling_sandboxes(
    compose_server: tuple[str, str], fake: FakeUpstream
) -> None:
    url, instance = compose_server
    code = "open('/mnt/data/squares.csv', 'w').write('n,sq\\n3,9\\n')\nprint(sum(range(1, 101)))"
    answer = "5050. [squares](sandbox:/mnt/data/squares.csv)"
    fake.script(
        Turn(tool_calls=[Call("code_interpreter", json.dumps({"code": code}))]), Turn(text=answer)
    )
    with openai.OpenAI(base_url=f"{url}/v1", api_key=KEY_A, max_retries=0) as client:
        assistant = client.beta.assistants.create(
            model="gpt-4o", tools=[{"type": "code_interpreter"}]
        )
        run = client.beta.threads.create_and_run_poll(
            assistant_id=assistant.id,
            thread={"messages": [{"role": "user", "content": "sum 1..100"}]},
        )
        assert run.status == "completed", run.last_error
        steps = client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id).data
        call = steps[-1].step_details.tool_calls[0]  # type: ignore[union-attr]
        assert call.code_interpreter.outputs[0].logs == "5050\n"  # type: ignore[union-attr]
        # The file the sandbox wrote is read by the server in its container: the same folder.
        text = client.beta.threads.messages.list(run.thread_id).data[0].content[0].text  # type: ignore[union-attr]
        (annotation,) = text.annotations
        content = client.files.content(annotation.file_path.file_id).content  # type: ignore[union-attr]
        assert content == b"n,sq\n3,9\n"
    # The sandbox ran as a sibling on the host's engine, labelled with the server's instance.
    engine = docker.from_env()
    try:
        running = engine.containers.list(filters={"label": f"{dc.LABEL_INSTANCE}={instance}"})
        assert running, "no sandbox container on the host's engine"
    finally:
        engine.close()
