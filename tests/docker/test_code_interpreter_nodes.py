"""A thread's code interpreter moving between nodes (two servers, each with its own sandboxes
and data directory, on one PostgreSQL database and one S3 bucket): the run on node B gets a
new Python session there, the model is told its variables were reset, and the files the code
wrote on node A are in B's /mnt/data, through the blob store. The output files download from
either node."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
import openai
import pytest

from assistantd.settings import Settings
from tests.conftest import KEY_A, make_settings
from tests.docker.conftest import IMAGE_TAG
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.s3 import CREDENTIALS, s3_overrides
from tests.support.server import fresh_postgres_database, run_server

pytestmark = pytest.mark.docker


def _code(code: str) -> Call:
    return Call("code_interpreter", json.dumps({"code": code}))


def _logs(client: openai.OpenAI, thread_id: str, run_id: str) -> str:
    steps = client.beta.threads.runs.steps.list(run_id, thread_id=thread_id, order="asc")
    out = []
    for step in steps:
        if step.step_details.type != "tool_calls":
            continue
        for call in step.step_details.tool_calls:
            for output in call.code_interpreter.outputs:  # type: ignore[union-attr]
                if output.type == "logs":
                    out.append(output.logs)
    return "".join(out)


def _postgres() -> str:
    base = os.environ.get("ASSISTANTD_TEST_DATABASE_URL")
    if not base:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL tests: ASSISTANTD_TEST_DATABASE_URL unset")
        pytest.skip("needs PostgreSQL: ASSISTANTD_TEST_DATABASE_URL (scripts/test sets it)")
    return base


def _nodes(database: str, s3_url: str, fake: FakeUpstream, tmp_path: Path) -> Any:
    """Settings for node `name`: its own data directory and sandbox label; the rest shared."""
    bucket = s3_overrides(s3_url)

    def node(name: str, **overrides: Any) -> Settings:
        return make_settings(
            tmp_path / name,
            database,
            upstream_base_url=fake.base_url,
            sandbox_enabled=True,
            sandbox_image=IMAGE_TAG,
            sandbox_pool_size=0,
            sandbox_exec_timeout_s=30.0,
            sandbox_instance=f"pytest-nodes-{name}-{secrets.token_hex(4)}",
            **{**bucket, **overrides},
        )

    return node


def test_mnt_data_follows_the_thread_to_another_node(
    sandbox_image: str, s3_url: str, fake: FakeUpstream, tmp_path: Path
) -> None:
    with fresh_postgres_database(_postgres()) as database:
        node = _nodes(database, s3_url, fake, tmp_path)

        fake.script(
            Turn(tool_calls=[_code("x = 41\nopen('/mnt/data/notes.txt', 'w').write('tide 7')")]),
            Turn(text="Saved. [notes](sandbox:/mnt/data/notes.txt)"),
            Turn(tool_calls=[_code("print(open('/mnt/data/notes.txt').read(), 'x' in dir())")]),
            Turn(text="Read it back."),
        )
        with (
            run_server(node("a")) as node_a,
            openai.OpenAI(base_url=node_a.api, api_key=KEY_A, max_retries=0) as a,
        ):
            assistant = a.beta.assistants.create(
                model="gpt-4o", tools=[{"type": "code_interpreter"}]
            )
            thread = a.beta.threads.create(messages=[{"role": "user", "content": "save it"}])
            first = a.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100
            )
            assert first.status == "completed", first.last_error
            answer = a.beta.threads.messages.list(thread.id).data[0].content[0].text
            (link,) = answer.annotations  # type: ignore[union-attr]
            made_id = link.file_path.file_id  # type: ignore[union-attr]
        # Node A is gone (its session with it); the thread goes on on node B.
        with (
            run_server(node("b")) as node_b,
            openai.OpenAI(base_url=node_b.api, api_key=KEY_A, max_retries=0) as b,
        ):
            b.beta.threads.messages.create(thread.id, role="user", content="read it")
            second = b.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100
            )
            assert second.status == "completed", second.last_error
            logs = _logs(b, thread.id, second.id)
            assert "tide 7 False" in logs  # the file came along; the variable did not
            assert "The Python session was restarted" in logs
            assert b.files.content(made_id).content == b"tide 7"


def test_a_container_follows_to_another_node(
    sandbox_image: str, s3_url: str, fake: FakeUpstream, tmp_path: Path
) -> None:
    with fresh_postgres_database(_postgres()) as database:
        node = _nodes(database, s3_url, fake, tmp_path)
        fake.script(
            Turn(tool_calls=[_code("y = 1\nopen('/mnt/data/out.txt', 'w').write('made on a')")]),
            Turn(text="Written."),
            Turn(tool_calls=[_code("print(open('/mnt/data/in.txt').read(), 'y' in dir())")]),
            Turn(text="Read."),
        )
        with (
            run_server(node("a")) as node_a,
            openai.OpenAI(base_url=node_a.api, api_key=KEY_A, max_retries=0) as a,
        ):
            container = a.containers.create(name="work")
            upload = a.containers.files.create(container.id, file=("in.txt", b"sent to a"))
            tool: Any = {"type": "code_interpreter", "container": container.id}
            first = a.responses.create(model="gpt-4o", input="write", tools=[tool])
            assert first.status == "completed", first.error
            files = {f.path: f.id for f in a.containers.files.list(container.id)}
            assert set(files) == {"/mnt/data/in.txt", "/mnt/data/out.txt"}
        with (
            run_server(node("b")) as node_b,
            openai.OpenAI(base_url=node_b.api, api_key=KEY_A, max_retries=0) as b,
        ):
            out = b.containers.files.content.retrieve(
                files["/mnt/data/out.txt"], container_id=container.id
            )
            assert out.read() == b"made on a"  # served by B, which never ran that code
            second = b.responses.create(
                model="gpt-4o",
                input="read",
                tools=[tool],
                include=["code_interpreter_call.outputs"],
            )
            assert second.status == "completed", second.error
            logs = second.output[0].outputs[0].logs  # type: ignore[union-attr]
            assert "sent to a False" in logs and "The Python session was restarted" in logs
            assert upload.id == files["/mnt/data/in.txt"]


def _s3(settings: Settings) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=settings.s3.endpoint_url,
        region_name=settings.s3.region,
        aws_access_key_id=CREDENTIALS["s3_access_key_id"],
        aws_secret_access_key=CREDENTIALS["s3_secret_access_key"],
    )


def _bucket_keys(settings: Settings) -> set[str]:
    """The objects in the nodes' bucket (keys without the store's prefix)."""
    listed = _s3(settings).list_objects_v2(Bucket=settings.s3.bucket)
    prefix = settings.s3.prefix or ""
    return {item["Key"].removeprefix(prefix) for item in listed.get("Contents", [])}


def _runs_in_flight(url: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("assistantd_runs_in_flight "):
            return float(line.split()[1])
    raise AssertionError("no runs_in_flight gauge")


def test_a_stale_attempt_leaves_no_code_interpreter_files(
    sandbox_image: str, s3_url: str, fake: FakeUpstream, tmp_path: Path
) -> None:
    """Node A loses run 1's lease while its code runs (A's heartbeat is slower than the lease,
    so it is presumed dead though it goes on), B takes the run over and fails it (a code call
    was under way). The file and the figure A's code makes after that are refused: no File,
    no object in the bucket, no /mnt/data manifest naming them, and A's own copy of the
    session is dropped. The thread's next run, on B, sees none of it in /mnt/data and makes
    its own file, exactly once."""
    with fresh_postgres_database(_postgres()) as database:
        node = _nodes(database, s3_url, fake, tmp_path)
        stale = (
            "import time\ntime.sleep(7)\nopen('/mnt/data/stale.txt', 'w').write('from A')\n"
            "import matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()"
        )
        fresh = (
            "import os\nprint(sorted(os.listdir('/mnt/data')))\n"
            "open('/mnt/data/fresh.txt', 'w').write('from B')"
        )
        fake.script(
            Turn(tool_calls=[_code(stale)]),
            Turn(tool_calls=[_code(fresh)]),
            Turn(text="Done. [fresh](sandbox:/mnt/data/fresh.txt)"),
        )
        settings_a = node("a", lease_ttl_s=3.0, lease_heartbeat_s=120.0)  # one beat, at start
        settings_b = node("b", lease_ttl_s=3.0, lease_heartbeat_s=0.5)
        with (
            run_server(settings_a) as node_a,
            run_server(settings_b) as node_b,
            openai.OpenAI(base_url=node_a.api, api_key=KEY_A, max_retries=0) as a,
            openai.OpenAI(base_url=node_b.api, api_key=KEY_A, max_retries=0) as b,
        ):
            assistant = a.beta.assistants.create(
                model="gpt-4o", tools=[{"type": "code_interpreter"}]
            )
            thread = a.beta.threads.create(messages=[{"role": "user", "content": "go"}])
            first = a.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
            deadline = time.monotonic() + 60
            while (run := b.beta.threads.runs.retrieve(first.id, thread_id=thread.id)).status in (
                "queued",
                "in_progress",
            ):
                assert time.monotonic() < deadline, "B never took the run over"
                time.sleep(0.1)
            assert run.status == "failed" and run.last_error is not None
            assert run.last_error.code == "server_error"  # taken over mid-call: not repeated
            local = settings_a.sandbox_files_dir / thread.id
            deadline = time.monotonic() + 60
            while _runs_in_flight(node_a.url) > 0:  # A's code ends, its writes are refused
                assert time.monotonic() < deadline, "A's stale attempt never ended"
                time.sleep(0.1)
            assert list(b.files.list()) == []
            assert _bucket_keys(settings_b) == set()
            assert not (local / "stale.txt").exists()  # A's session was dropped
            [step] = b.beta.threads.runs.steps.list(first.id, thread_id=thread.id)
            assert step.status == "failed"
            [call] = step.step_details.tool_calls  # type: ignore[union-attr]
            assert call.code_interpreter.outputs == []  # type: ignore[union-attr]

            b.beta.threads.messages.create(thread.id, role="user", content="again")
            second = b.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100
            )
            assert second.status == "completed", second.last_error
            logs = _logs(b, thread.id, second.id)
            assert "[]" in logs and "stale.txt" not in logs, logs
            [made] = list(b.files.list())
            assert made.filename == "fresh.txt" and made.purpose == "assistants_output"
            assert b.files.content(made.id).content == b"from B"
            manifest_key = f"sandbox-{thread.id}.json"
            assert _bucket_keys(settings_b) == {made.id, manifest_key}
            key = f"{settings_b.s3.prefix}{manifest_key}"
            stored = _s3(settings_b).get_object(Bucket=settings_b.s3.bucket, Key=key)
            manifest = json.loads(stored["Body"].read())
            assert manifest["files"] == {"fresh.txt": made.id}
