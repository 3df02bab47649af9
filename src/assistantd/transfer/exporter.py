"""`assistantd export`: a project in the export format (docs/export-format.md), with its bytes.

The output is what OpenAI's exporter wrote (manifest, assistants.json, one file per thread with
its messages, runs and steps, and the files they reference), plus what OpenAI never let anyone
take: `files.json` with every File of the project and `files/<file id>` with the bytes. So
`assistantd import` on another server brings back the same objects under the same ids.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from assistantd import __version__
from assistantd.db.engine import Database
from assistantd.db.tables import (
    assistants,
    files,
    messages,
    run_steps,
    runs,
    threads,
    vector_stores,
)
from assistantd.files.blobs import BlobMissingError, BlobStore
from assistantd.files.schemas import FileObject, is_placeholder
from assistantd.transfer import store
from assistantd.transfer.export_format import (
    FILES_DIR,
    FILES_INDEX,
    MANIFEST_SCHEMA,
    STORES_INDEX,
    THREAD_SCHEMA,
    file_refs,
)


def _dump(path: Path, value: Any) -> None:
    """As the exporter writes: 2-space indent, non-ASCII kept, a final newline."""
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _now() -> str:
    return (
        datetime.datetime.now(datetime.UTC)
        .replace(microsecond=0)
        .isoformat()
        .replace("+00:00", "Z")
    )


async def export_project(
    db: Database, blobs: BlobStore, directory: Path, project: str
) -> dict[str, Any]:
    """Write `project` into `directory` (made if needed); returns the manifest."""
    (directory / "threads").mkdir(parents=True, exist_ok=True)
    (directory / FILES_DIR).mkdir(exist_ok=True)
    async with db.read() as conn:
        assistant_list = [json.loads(b) for b in await store.bodies(conn, assistants, project)]
        file_list = [json.loads(b) for b in await store.bodies(conn, files, project)]
        thread_list = [json.loads(b) for b in await store.bodies(conn, threads, project)]
        store_list = [
            {
                "vector_store": json.loads(body),
                "files": [
                    json.loads(f)
                    for f in await store.store_file_bodies(conn, project, json.loads(body)["id"])
                ],
            }
            for body in await store.bodies(conn, vector_stores, project)
        ]
        by_id = {item["id"]: item for item in file_list}
        for thread in thread_list:
            thread_id = thread["id"]
            message_list = [
                json.loads(b)
                for b in await store.bodies(conn, messages, project, thread_id=thread_id)
            ]
            run_list = [
                json.loads(b) for b in await store.bodies(conn, runs, project, thread_id=thread_id)
            ]
            for run in run_list:
                run["steps"] = [
                    json.loads(b)
                    for b in await store.bodies(conn, run_steps, project, run_id=run["id"])
                ]
            refs: list[str] = []
            file_refs([thread, message_list, run_list], refs)
            _dump(
                directory / "threads" / f"{thread_id}.json",
                {
                    "export_schema": THREAD_SCHEMA,
                    "thread_id": thread_id,
                    "exported_at": _now(),
                    "thread": thread,
                    "messages": message_list,
                    "runs": run_list,
                    "files": {ref: by_id[ref] for ref in dict.fromkeys(refs) if ref in by_id},
                    "errors": [],
                },
            )
    _dump(directory / "assistants.json", assistant_list)
    _dump(directory / FILES_INDEX, file_list)
    _dump(directory / STORES_INDEX, store_list)
    missing, lost = [], []
    for item in file_list:
        if is_placeholder(FileObject.model_validate(item)):
            missing.append(item["id"])
            continue
        try:
            chunks = await blobs.stream(item["id"])
        except BlobMissingError:  # the row is there, its object is not: export the rest
            lost.append(item["id"])
            continue
        with (directory / FILES_DIR / item["id"]).open("wb") as target:
            async for chunk in chunks:  # streamed: a large file never sits in memory
                target.write(chunk)
    notes = [
        f"written by assistantd {__version__}: files.json and files/ hold every File, "
        "vector_stores.json every vector store with its files"
    ]
    if missing:
        notes.append(f"{len(missing)} file(s) had no bytes here (imported placeholders)")
    if lost:
        notes.append(f"{len(lost)} file(s) missing from the file storage: {', '.join(lost)}")
    manifest = {
        "export_schema": MANIFEST_SCHEMA,
        "script_version": f"assistantd-{__version__}",
        "exported_at": _now(),
        "endpoint": "assistantd",
        "base_url": None,
        "project": project,
        "assistants_count": len(assistant_list),
        "threads_requested": len(thread_list),
        "threads_exported": len(thread_list),
        "threads_failed": [],
        "notes": notes,
    }
    _dump(directory / "manifest.json", manifest)
    return manifest
