"""`assistantd import`: an export (docs/export-format.md) into a project, keeping its ids.

* Every object is checked whole first (export_format.py); what fails is reported, never written.
* Ids are kept (or, with `new_ids`, mapped to fresh ones through a mapping file that is reused,
  so a re-import maps the same way). An id already in the project is left as it is, which makes
  importing twice a no-op; an id held by another project stops the import before any write.
* Everything is written in one transaction: an import is whole or not at all.
* Imported objects get sort keys from their `created_at`, so they list and replay in creation
  order among the objects made here later.
* Files known only from metadata become placeholders (`status: error`, `status_details` says
  the bytes were not exported); `attach_bytes` fills them in later by id or file name.
* Runs that were still live at export time cannot go on here: they are imported `expired`
  (`cancelled` if they were cancelling), with their open steps; vector stores are not in the
  format, so references to stores this server does not have are dropped from tool_resources.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd import ids
from assistantd.db.documents import Document
from assistantd.db.engine import Database
from assistantd.db.tables import files
from assistantd.effects import outbox
from assistantd.files.blobs import BlobStore
from assistantd.files.schemas import BYTES_NOT_EXPORTED, FileObject, is_placeholder
from assistantd.messages.schemas import Message
from assistantd.run_steps.schemas import RunStep
from assistantd.runs.schemas import RunStatus
from assistantd.runs.state import ACTIVE
from assistantd.schemas import ToolResources
from assistantd.transfer import store
from assistantd.transfer.export_format import (
    Export,
    Problem,
    ThreadExport,
    file_refs,
    read_export,
)
from assistantd.vector_stores import store as vector_stores_store
from assistantd.vector_stores.ingestion import Job

KINDS = ("assistants", "threads", "messages", "runs", "run_steps", "files", "vector_stores")


class ImportConflict(Exception):
    """Ids of the export belong to another project here: nothing was imported."""


@dataclass
class Report:
    imported: Counter[str] = field(default_factory=Counter)
    already_present: Counter[str] = field(default_factory=Counter)
    placeholders: list[str] = field(default_factory=list)
    attached: list[str] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": {kind: self.imported[kind] for kind in KINDS},
            "already_present": {kind: self.already_present[kind] for kind in KINDS},
            "placeholders": self.placeholders,
            "attached": self.attached,
            "skipped": [problem.as_dict() for problem in self.skipped],
            "notes": self.notes,
        }


# --- id mapping (--new-ids) ----------------------------------------------------------------------

_PREFIXES = {
    "assistants": ids.ASSISTANT,
    "threads": ids.THREAD,
    "messages": ids.MESSAGE,
    "runs": ids.RUN,
    "run_steps": ids.STEP,
    "files": ids.FILE,
    "vector_stores": ids.VECTOR_STORE,
}


def _objects(export: Export) -> dict[str, list[Document]]:
    found: dict[str, list[Document]] = {kind: [] for kind in KINDS}
    found["assistants"] = list(export.assistants)
    for item in export.threads:
        found["threads"].append(item.thread)
        found["messages"] += item.messages
        found["runs"] += item.runs
        found["run_steps"] += item.steps
    found["files"] = list(export.files.values())
    found["vector_stores"] = [item.store for item in export.stores]
    return found


def _rewrite(node: Any, mapping: dict[str, str]) -> Any:
    if isinstance(node, str):
        return mapping.get(node, node)
    if isinstance(node, list):
        return [_rewrite(item, mapping) for item in node]
    if isinstance(node, dict):
        return {key: _rewrite(value, mapping) for key, value in node.items()}
    return node


def _remap(export: Export, map_path: Path, report: Report) -> None:
    """Give every object a fresh id (reusing `map_path`'s mapping), rewriting references."""
    mapping: dict[str, str] = {}
    if map_path.exists():
        mapping = json.loads(map_path.read_text(encoding="utf-8"))
    for kind, objects in _objects(export).items():
        for obj in objects:
            old = obj.id
            if old not in mapping:
                mapping[old] = ids.new_id(_PREFIXES[kind])

    def remapped(obj: Any) -> Any:
        return type(obj).model_validate(_rewrite(obj.model_dump(mode="json"), mapping))

    export.assistants = [remapped(a) for a in export.assistants]
    export.files = {mapping.get(k, k): remapped(f) for k, f in export.files.items()}
    for store_item in export.stores:
        store_item.store = remapped(store_item.store)
        store_item.files = [remapped(f) for f in store_item.files]
    for item in export.threads:
        item.thread = remapped(item.thread)
        item.messages = [remapped(m) for m in item.messages]
        item.runs = [remapped(r) for r in item.runs]
        item.steps = [remapped(s) for s in item.steps]
    map_path.write_text(json.dumps(mapping, indent=2) + "\n", encoding="utf-8")
    report.notes.append(f"new ids: the mapping (original -> new) is in {map_path}")


# --- fix-ups -------------------------------------------------------------------------------------


def _placeholders(export: Export, report: Report) -> None:
    """Files referenced but not described anywhere in the export: metadata-less placeholders."""
    owners: list[tuple[BaseModel, int]] = [(a, a.created_at) for a in export.assistants]
    for item in export.threads:
        owners += [(item.thread, item.thread.created_at)]
        owners += [(m, m.created_at) for m in item.messages]
        owners += [(s, s.created_at) for s in item.steps]
    for owner, created_at in owners:
        refs: list[str] = []
        file_refs(owner.model_dump(mode="json"), refs)
        for file_id in refs:
            if file_id not in export.files:
                export.files[file_id] = FileObject(
                    id=file_id,
                    bytes=0,
                    created_at=created_at,
                    filename=file_id,
                    purpose="assistants",
                )
    for file in export.files.values():
        if export.bytes_dir is None or not (export.bytes_dir / file.id).is_file():
            file.status, file.status_details = "error", BYTES_NOT_EXPORTED


def _settle_runs(item: ThreadExport, report: Report) -> None:
    """Runs live at export time end here (they cannot continue on another server)."""
    for run in item.runs:
        if run.status in ACTIVE:
            to: RunStatus = "cancelled" if run.status == "cancelling" else "expired"
            report.notes.append(f"run {run.id} was {run.status} when exported; imported {to}")
            run.status, run.required_action, run.expires_at = to, None, None
    for step in item.steps:
        if step.status == "in_progress":
            step.status = "expired"
            step.expired_at = step.expired_at or step.created_at


async def _known_stores(
    conn: AsyncConnection, project: str, resources: ToolResources | None, owner: str, report: Report
) -> None:
    if resources is None or resources.file_search is None:
        return
    wanted = resources.file_search.vector_store_ids
    found = await vector_stores_store.existing_store_ids(conn, project, wanted)
    for store_id in wanted:
        if store_id not in found:
            report.notes.append(
                f"{owner}: vector store {store_id} is not in the export (the format has no "
                "vector stores) and was left out of its tool_resources"
            )
    resources.file_search.vector_store_ids = [s for s in wanted if s in found]


# --- writing -------------------------------------------------------------------------------------


class _Keys:
    """Sort keys in creation order; `counter` breaks ties within a second, in the given order."""

    def __init__(self) -> None:
        self.counter = 0

    def next(self, prefix: str, created_at: int) -> str:
        self.counter += 1
        return ids.sort_key(prefix, created_at, self.counter)


def _thread_order(item: ThreadExport) -> list[Message | RunStep]:
    """Messages and steps as they happened: by time, then user message, step, answer."""

    def rank(obj: Message | RunStep) -> int:
        if isinstance(obj, RunStep):
            return 1
        return 0 if obj.role == "user" else 2

    indexed: list[tuple[int, int, int, Message | RunStep]] = []
    everything: list[Message | RunStep] = [*item.messages, *item.steps]
    for position, obj in enumerate(everything):
        indexed.append((obj.created_at, rank(obj), position, obj))
    return [obj for *_, obj in sorted(indexed, key=lambda entry: entry[:3])]


async def _write(
    conn: AsyncConnection, blobs: BlobStore, project: str, export: Export, report: Report
) -> None:
    objects = _objects(export)
    present: dict[str, set[str]] = {}
    clashes: list[str] = []
    for kind, items in objects.items():
        owners = await store.owners(conn, store.TABLES[kind], [o.id for o in items])
        clashes += [f"{kind[:-1]} {oid}" for oid, owner in owners.items() if owner != project]
        present[kind] = set(owners)
        report.already_present[kind] = len(owners)
    if clashes:
        raise ImportConflict(
            f"{len(clashes)} id(s) of this export belong to another project on this server "
            f"(e.g. {', '.join(clashes[:5])}); nothing was imported. Import into that project, "
            "or use --new-ids."
        )
    keys = _Keys()

    async def put(kind: str, obj: Any, prefix: str, **columns: Any) -> None:
        if obj.id in present[kind]:
            return
        await store.insert(
            conn, store.TABLES[kind], project, obj, keys.next(prefix, obj.created_at), **columns
        )
        report.imported[kind] += 1

    for file in sorted(export.files.values(), key=lambda f: f.created_at):
        if file.id in present["files"]:
            continue
        if is_placeholder(file):
            report.placeholders.append(file.id)
        elif export.bytes_dir is not None:  # bytes first, as an upload: never a row without them
            with (export.bytes_dir / file.id).open("rb") as source:
                await blobs.put(file.id, source)
        await put("files", file, ids.FILE, purpose=file.purpose, blob_key=file.id)
    for store_item in export.stores:  # before the assistants and threads that name them
        if store_item.store.id in present["vector_stores"]:
            continue
        await vector_stores_store.insert_store(conn, project, store_item.store)
        for vs_file in store_item.files:  # indexed again here, once the import has committed
            fresh = vs_file.model_copy(update={"status": "in_progress", "usage_bytes": 0})
            fresh.last_error = None
            await vector_stores_store.upsert_file(conn, project, fresh)
            outbox(conn).ingest(Job(project, fresh.vector_store_id, fresh.id))
        report.imported["vector_stores"] += 1
    for assistant in sorted(export.assistants, key=lambda a: a.created_at):
        await _known_stores(conn, project, assistant.tool_resources, assistant.id, report)
        await put("assistants", assistant, ids.ASSISTANT)
    for item in sorted(export.threads, key=lambda t: t.thread.created_at):
        thread = item.thread
        await _known_stores(conn, project, thread.tool_resources, thread.id, report)
        await put("threads", thread, ids.THREAD)
        for run in item.runs:
            await put(
                "runs", run, ids.RUN, thread_id=run.thread_id, status=run.status, expires_at=None
            )
        for obj in _thread_order(item):
            if isinstance(obj, Message):
                await put("messages", obj, ids.MESSAGE, thread_id=obj.thread_id, run_id=obj.run_id)
            else:
                await put("run_steps", obj, ids.STEP, thread_id=obj.thread_id, run_id=obj.run_id)


async def import_export(
    db: Database,
    blobs: BlobStore,
    directory: Path,
    project: str,
    *,
    new_ids_map: Path | None = None,
) -> Report:
    """Import `directory` into `project`. Raises ExportError (unreadable export) or
    ImportConflict (ids of another project) before writing anything."""
    report = Report()
    export = read_export(directory)
    report.skipped = export.problems
    if new_ids_map is not None:
        _remap(export, new_ids_map, report)
    for item in export.threads:
        _settle_runs(item, report)
    _placeholders(export, report)
    async with db.write() as conn:
        await _write(conn, blobs, project, export, report)
    return report


# --- bytes for placeholders ----------------------------------------------------------------------


def _files_in(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*") if path.is_file())


async def attach_bytes(db: Database, blobs: BlobStore, directory: Path, project: str) -> Report:
    """Give placeholders their bytes from `directory`: a file named like the File's id (with or
    without an extension), else named like its `filename` when exactly one placeholder has it."""
    report = Report()
    async with db.read() as conn:
        waiting = [
            FileObject.model_validate_json(body)
            for body in await store.bodies(conn, files, project)
        ]
    waiting = [file for file in waiting if is_placeholder(file)]
    by_id = {file.id: file for file in waiting}
    by_name: dict[str, list[FileObject]] = {}
    for placeholder in waiting:
        by_name.setdefault(placeholder.filename, []).append(placeholder)
    done: set[str] = set()
    for path in _files_in(directory):
        file = by_id.get(path.name) or by_id.get(path.name.split(".", 1)[0])
        if file is None:
            named = by_name.get(path.name, [])
            if len(named) > 1:
                report.skipped.append(
                    Problem(
                        str(path),
                        None,
                        f"{len(named)} placeholders are named {path.name!r}; name the file by "
                        "its id instead",
                    )
                )
                continue
            file = named[0] if named else None
        if file is None or file.id in done:
            continue
        with path.open("rb") as source:
            size = await blobs.put(file.id, source)
        if file.bytes and size != file.bytes:
            report.notes.append(
                f"{file.id}: {path.name} has {size} bytes, the export said {file.bytes}"
            )
        attached = file.model_copy(update={"bytes": size, "status": "processed"})
        attached.status_details = None
        async with db.write() as conn:
            await store.save_file(conn, project, attached)
        done.add(file.id)
        report.attached.append(file.id)
    report.notes += [
        f"{file.id} ({file.filename}) still has no bytes" for file in waiting if file.id not in done
    ]
    return report
