"""`assistantd import` / `assistantd export` against a real server's database: a hand-made
export in OpenAI's export format (runs, steps, tool calls, image and citation annotations)
imports with its ids, lists and retrieves through the SDK in OpenAI's shapes, continues with a
new run, re-imports as a no-op; bad exports are reported, never half-imported; an export written
by assistantd moves a project to another server under the same ids."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import KEY_A, make_settings, sdk
from tests.fakes.upstream import FakeUpstream, Turn
from tests.support.server import RunningServer, run_server

DATA = Path(__file__).resolve().parents[1] / "data"
EXPORT = DATA / "openai-export"
BYTES = DATA / "openai-export-bytes"
ASSISTANT = "asst_Hx7kP2mQ9vL4nR8sT1wY3zA5"
THREAD = "thread_Qm3bV8cX1zN6kJ2hG5fD9sA0"
MESSAGES = [
    "msg_Mn2bV5cX8zL1kJ4hG7fD0sA3",
    "msg_Wq6eR9tY2uI5oP8aS1dF4gH7",
    "msg_Zx3cV6bN9mQ2wE5rT8yU1iO4",
]
RUNS = ["run_Lk4jH7gF0dS3aP6oI9uY2tR5", "run_Pq1wE4rT7yU0iO3pA6sD9fG2"]
CSV, POLICY, IMAGE = (
    "file-9fKd2LmQpX4rT7vW1yZ3bC6n",
    "file-2HgJ5kL8nP1qR4tV7wY0zA3c",
    "file-7BcD0fG3hJ6kM9nQ2rS5tV8x",
)


def cli(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ASSISTANTD_DATABASE_URL": server.settings.effective_database_url,
        "ASSISTANTD_DATA_DIR": str(server.settings.data_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "assistantd", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def import_json(server: RunningServer, *args: str) -> tuple[int, dict[str, Any]]:
    done = cli(server, "import", *args, "--json")
    assert done.returncode in (0, 3), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_handmade_export_imports_with_ids_and_continues(
    server: RunningServer, client: openai.OpenAI, fake: FakeUpstream, http: httpx.Client
) -> None:
    code, report = import_json(server, str(EXPORT), "--project", "alpha")
    assert code == 3  # the export has a thread that could not be read: reported, not imported
    if report["imported"]["threads"]:  # the first import in this session
        assert report["imported"] == {
            "assistants": 1,
            "threads": 1,
            "messages": 3,
            "runs": 2,
            "run_steps": 4,
            "files": 4,
            "vector_stores": 0,  # OpenAI's exporter writes none
        }
    skipped = {(problem["id"], problem["reason"]) for problem in report["skipped"]}
    assert ("thread_Zz9yX8wV7uT6sR5qP4oN3mL2", "the thread itself is missing from the export") in (
        skipped
    )
    assert ("msg_Orphan0rphan0rphan0rphan0", "its thread is missing") in skipped

    assistant = client.beta.assistants.retrieve(ASSISTANT)
    assert assistant.name == "Sales analyst" and assistant.temperature == 0.7
    assert [tool.type for tool in assistant.tools] == [
        "code_interpreter",
        "file_search",
        "function",
    ]
    assert assistant.tool_resources.code_interpreter.file_ids == [CSV]
    assert assistant.tool_resources.file_search is None or not (
        assistant.tool_resources.file_search.vector_store_ids
    )  # the store was not in the export
    thread = client.beta.threads.retrieve(THREAD)
    assert thread.metadata == {"customer": "c-42"}
    listed = list(client.beta.threads.messages.list(THREAD, order="asc"))
    assert [m.id for m in listed] == MESSAGES
    answer = listed[1]
    kinds = [a.type for a in answer.content[0].text.annotations]
    assert kinds == ["file_citation", "file_path"]
    assert answer.content[0].text.annotations[0].file_citation.file_id == POLICY
    assert answer.content[1].image_file.file_id == IMAGE
    runs = list(client.beta.threads.runs.list(THREAD, order="asc"))
    assert [r.id for r in runs] == RUNS
    assert runs[1].status == "expired"  # it was waiting for tool outputs when exported
    steps = list(client.beta.threads.runs.steps.list(run_id=RUNS[0], thread_id=THREAD, order="asc"))
    assert [s.step_details.type for s in steps] == ["tool_calls", "tool_calls", "message_creation"]
    outputs = steps[0].step_details.tool_calls[0].code_interpreter.outputs
    assert [o.type for o in outputs] == ["logs", "image"]
    # files are placeholders: metadata, and a status that says the bytes were not exported
    placeholder = client.files.retrieve(CSV)
    assert placeholder.filename == "sales.csv" and placeholder.status == "error"
    assert "not in the export" in (placeholder.status_details or "")
    refused = http.get(f"/files/{CSV}/content")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "file_not_downloadable"

    # re-import: nothing changes
    code, again = import_json(server, str(EXPORT), "--project", "alpha")
    assert code == 3 and not any(again["imported"].values())
    assert again["already_present"]["messages"] == 3
    assert [m.id for m in client.beta.threads.messages.list(THREAD, order="asc")] == MESSAGES

    # bytes later, by file name and by id
    done = cli(server, "import", "--files", str(BYTES), "--project", "alpha", "--json")
    attached = json.loads(done.stdout)["attached"]
    assert set(attached) <= {CSV, POLICY}
    assert http.get(f"/files/{CSV}/content").content == (BYTES / "sales.csv").read_bytes()
    assert client.files.retrieve(POLICY).status == "processed"

    # the imported thread continues: a new message and run see the history, in order
    fake.script(Turn(text="Osaka is sunny."))
    client.beta.threads.messages.create(THREAD, role="user", content="Any news?")
    run = client.beta.threads.runs.create_and_poll(thread_id=THREAD, assistant_id=ASSISTANT)
    assert run.status == "completed", run.last_error
    sent = [m for m in fake.requests[-1]["messages"] if m["role"] == "user"]
    assert "Chart sales.csv" in str(sent[0]["content"])
    assert "Any news?" in str(sent[-1]["content"])
    newest = list(client.beta.threads.messages.list(THREAD, order="asc"))
    assert [m.id for m in newest][:3] == MESSAGES and len(newest) == 5
    assert newest[-1].content[0].text.value == "Osaka is sunny."


def _corrupt(tmp_path: Path) -> Path:
    bad = tmp_path / "bad-export"
    shutil.copytree(EXPORT, bad)
    (bad / "threads" / "thread_Zz9yX8wV7uT6sR5qP4oN3mL2.json").unlink()
    source = json.loads((EXPORT / "threads" / f"{THREAD}.json").read_text())
    # a second, valid thread with fresh ids, whose objects are then broken one by one
    text = json.dumps(source).replace("Qm3bV8cX1zN6kJ2hG5fD9sA0", "Bad0Bad0Bad0Bad0Bad0Bad0")
    for old in (*MESSAGES, *RUNS, "step_"):
        text = text.replace(old, old[:-4] + "Bad0" if old != "step_" else "step_Bad")
    thread = json.loads(text)
    del thread["messages"][0]["role"]  # a missing field
    thread["messages"][2]["thread_id"] = "thread_NotInThisExport0000000"  # its thread is missing
    del thread["runs"][1]["created_at"]  # a run missing a field: its steps go too
    (bad / "threads" / "thread_Bad0Bad0Bad0Bad0Bad0Bad0.json").write_text(json.dumps(thread))
    (bad / "threads" / "thread_Truncated.json").write_text('{"export_schema": "assistants-th')
    future = {**source, "export_schema": "assistants-thread-export/v9", "thread_id": "thread_v9"}
    (bad / "threads" / "thread_v9.json").write_text(json.dumps(future))
    (bad / "assistants.json").write_text(
        json.dumps([{"id": "asst_NoModel", "object": "assistant"}])
    )
    return bad


def test_bad_exports_are_reported_and_never_half_imported(
    server: RunningServer, tmp_path: Path, other_client: openai.OpenAI
) -> None:
    code, report = import_json(
        server,
        str(_corrupt(tmp_path)),
        "--project",
        "beta",
        "--new-ids",
        "--id-map",
        str(tmp_path / "map.json"),
    )
    assert code == 3
    reasons = {problem["where"].split(": ")[-1]: problem["reason"] for problem in report["skipped"]}
    where = "threads/thread_Bad0Bad0Bad0Bad0Bad0Bad0.json"
    assert any(
        p["where"] == f"{where}: messages[0]" and "role" in p["reason"] for p in report["skipped"]
    )
    assert "its thread thread_NotInThisExport0000000 is missing" in reasons["messages[2]"]
    assert (
        "created_at" in reasons["runs[1]"] and reasons["runs[1].steps[0]"] == "its run was skipped"
    )
    assert "not valid JSON" in next(
        p["reason"] for p in report["skipped"] if p["where"] == "threads/thread_Truncated.json"
    )
    assert "assistants-thread-export/v9" in next(
        p["reason"] for p in report["skipped"] if p["where"] == "threads/thread_v9.json"
    )
    assert "model" in next(
        p["reason"] for p in report["skipped"] if p["where"] == "assistants.json[0]"
    )
    # what was valid is there (under new ids), what was not is nowhere
    mapping = json.loads((tmp_path / "map.json").read_text())
    bad_thread = mapping["thread_Bad0Bad0Bad0Bad0Bad0Bad0"]
    kept = [m.id for m in other_client.beta.threads.messages.list(bad_thread, order="asc")]
    assert kept == [mapping[MESSAGES[1][:-4] + "Bad0"]]
    assert [r.id for r in other_client.beta.threads.runs.list(bad_thread)] == [
        mapping[RUNS[0][:-4] + "Bad0"]
    ]
    # new ids: the imported thread of the good file answers under its new id only
    assert other_client.beta.threads.retrieve(mapping[THREAD]).metadata == {"customer": "c-42"}
    with pytest.raises(openai.NotFoundError):
        other_client.beta.threads.retrieve(THREAD)
    # a re-import with the same map is a no-op
    code, again = import_json(
        server,
        str(tmp_path / "bad-export"),
        "--project",
        "beta",
        "--new-ids",
        "--id-map",
        str(tmp_path / "map.json"),
    )
    assert not any(again["imported"].values())


def test_unknown_manifest_and_foreign_ids_stop_the_import(
    server: RunningServer, tmp_path: Path
) -> None:
    odd = tmp_path / "odd"
    shutil.copytree(EXPORT, odd)
    manifest = json.loads((odd / "manifest.json").read_text())
    (odd / "manifest.json").write_text(json.dumps({**manifest, "export_schema": "other/v2"}))
    refused = cli(server, "import", str(odd), "--project", "gamma")
    assert refused.returncode == 1 and "other/v2" in refused.stderr
    # the hand-made export's ids live in project alpha: project beta cannot take them
    import_json(server, str(EXPORT), "--project", "alpha")
    clash = cli(server, "import", str(EXPORT), "--project", "beta")
    assert clash.returncode == 1
    assert "belong to another project" in clash.stderr and "nothing was imported" in clash.stderr


def test_export_moves_a_project_to_another_server(
    server: RunningServer, client: openai.OpenAI, fake: FakeUpstream, tmp_path: Path
) -> None:
    upload = client.files.create(file=("notes.txt", b"moving day\n"), purpose="assistants")
    store = client.vector_stores.create(name="moving store", file_ids=[upload.id])
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        name="mover",
        tools=[{"type": "code_interpreter"}, {"type": "file_search"}],
        tool_resources={
            "code_interpreter": {"file_ids": [upload.id]},
            "file_search": {"vector_store_ids": [store.id]},
        },
    )
    thread = client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": "hi",
                "attachments": [{"file_id": upload.id, "tools": [{"type": "code_interpreter"}]}],
            }
        ],
        metadata={"moved": "yes"},
    )
    fake.script(Turn(text="hello from the old server"))
    client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    out = tmp_path / "export"
    done = cli(server, "export", str(out), "--project", "alpha")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["export_schema"] == "assistants-export-manifest/v1"
    assert (out / "files" / upload.id).read_bytes() == b"moving day\n"

    before = {
        "assistant": client.beta.assistants.retrieve(assistant.id).model_dump(),
        "thread": client.beta.threads.retrieve(thread.id).model_dump(),
        "messages": [m.model_dump() for m in client.beta.threads.messages.list(thread.id)],
        "runs": [r.model_dump() for r in client.beta.threads.runs.list(thread.id)],
    }
    data_dir = tmp_path / "second"
    settings = make_settings(
        data_dir, f"sqlite+aiosqlite:///{data_dir / 'db.sqlite'}", upstream_base_url=fake.base_url
    )
    with run_server(settings) as second, sdk(second, KEY_A) as moved:
        code, report = import_json(second, str(out), "--project", "alpha")
        assert code == 0 and report["skipped"] == []
        # only files that had no bytes on the first server stay placeholders
        without_bytes = {f.id for f in client.files.list() if f.status == "error"}
        assert set(report["placeholders"]) == without_bytes and upload.id not in without_bytes
        after = {
            "assistant": moved.beta.assistants.retrieve(assistant.id).model_dump(),
            "thread": moved.beta.threads.retrieve(thread.id).model_dump(),
            "messages": [m.model_dump() for m in moved.beta.threads.messages.list(thread.id)],
            "runs": [r.model_dump() for r in moved.beta.threads.runs.list(thread.id)],
        }
        assert after == before
        assert moved.files.content(upload.id).read() == b"moving day\n"
        # the vector store came along and is searchable again once re-indexed here
        deadline = time.monotonic() + 60
        while moved.vector_stores.retrieve(store.id).file_counts.completed != 1:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        hits = moved.vector_stores.search(store.id, query="moving day")
        assert [hit.file_id for hit in hits] == [upload.id]
        # the moved thread goes on with its history
        fake.script(Turn(text="hello from the new server"))
        moved.beta.threads.messages.create(thread.id, role="user", content="still there?")
        run = moved.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id
        )
        assert run.status == "completed", run.last_error
        sent = [m["content"] for m in fake.requests[-1]["messages"] if m["role"] != "system"]
        assert "hi" in str(sent[0]) and "hello from the old server" in str(sent[1])
        assert "still there?" in str(sent[-1])
        code, again = import_json(second, str(out), "--project", "alpha")
        assert code == 0 and not any(again["imported"].values())
