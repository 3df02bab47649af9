"""Reading an export directory (docs/export-format.md) into checked objects, with a report.

Every object is validated whole against our object schemas before anything is written: one
that fails (truncated JSON, a missing required field, a message whose thread is missing) is
left out and the report says which and why. Nothing here touches the database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from assistantd.assistants.schemas import Assistant
from assistantd.files.schemas import FileObject
from assistantd.messages.schemas import Message
from assistantd.run_steps.schemas import RunStep
from assistantd.runs.schemas import Run
from assistantd.threads.schemas import Thread
from assistantd.vector_stores.schemas import VectorStore, VectorStoreFile

MANIFEST_SCHEMA = "assistants-export-manifest/v1"
THREAD_SCHEMA = "assistants-thread-export/v1"
FILES_DIR = "files"  # assistantd's exports put each file's bytes here, named by its id
FILES_INDEX = "files.json"  # and every File object of the project (an assistantd extension)
STORES_INDEX = "vector_stores.json"  # and every vector store with its files (likewise)

M = TypeVar("M", bound=BaseModel)


@dataclass
class Problem:
    where: str  # a path inside the export, e.g. "threads/thread_x.json: messages[3]"
    id: str | None
    reason: str

    def as_dict(self) -> dict[str, str | None]:
        return {"where": self.where, "id": self.id, "reason": self.reason}


@dataclass
class ThreadExport:
    thread: Thread
    messages: list[Message] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    steps: list[RunStep] = field(default_factory=list)


@dataclass
class StoreExport:
    store: VectorStore
    files: list[VectorStoreFile] = field(default_factory=list)


@dataclass
class Export:
    manifest: dict[str, Any]
    assistants: list[Assistant] = field(default_factory=list)
    threads: list[ThreadExport] = field(default_factory=list)
    files: dict[str, FileObject] = field(default_factory=dict)
    stores: list[StoreExport] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    bytes_dir: Path | None = None  # where file bytes are, when the export has them


class ExportError(Exception):
    """The export as a whole cannot be read (no manifest, an unknown schema version)."""


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _first_error(error: ValidationError) -> str:
    """The first few problems, e.g. `created_at: Field required; model: Field required`."""
    shown = []
    for detail in error.errors()[:3]:
        location = ".".join(str(part) for part in detail.get("loc", ()))
        message = str(detail.get("msg", "invalid"))
        shown.append(f"{location}: {message}" if location else message)
    return "; ".join(shown)


def _check(model: type[M], raw: Any, where: str, problems: list[Problem]) -> M | None:
    object_id = raw.get("id") if isinstance(raw, dict) else None
    if not isinstance(raw, dict):
        problems.append(Problem(where, None, "not a JSON object"))
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        problems.append(Problem(where, object_id, f"invalid object ({_first_error(error)})"))
        return None


def read_export(directory: Path) -> Export:
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise ExportError(f"{directory} has no manifest.json: not an export directory")
    try:
        manifest = _read_json(manifest_path)
    except (ValueError, UnicodeDecodeError) as error:
        raise ExportError(f"manifest.json is not valid JSON ({error})") from None
    schema = manifest.get("export_schema") if isinstance(manifest, dict) else None
    if schema != MANIFEST_SCHEMA:
        raise ExportError(
            f"manifest.json has export_schema {schema!r}; this version reads {MANIFEST_SCHEMA!r}"
        )
    export = Export(manifest=manifest)
    _read_assistants(directory, export)
    _read_files_index(directory, export)
    _read_stores(directory, export)
    threads_dir = directory / "threads"
    for path in sorted(threads_dir.glob("*.json")) if threads_dir.is_dir() else []:
        _read_thread(path, f"threads/{path.name}", export)
    if (directory / FILES_DIR).is_dir():
        export.bytes_dir = directory / FILES_DIR
    return export


def _read_assistants(directory: Path, export: Export) -> None:
    path = directory / "assistants.json"
    if not path.exists():
        return
    try:
        raw = _read_json(path)
    except (ValueError, UnicodeDecodeError) as error:
        export.problems.append(Problem("assistants.json", None, f"not valid JSON ({error})"))
        return
    if not isinstance(raw, list):
        export.problems.append(Problem("assistants.json", None, "not a JSON array"))
        return
    for index, item in enumerate(raw):
        assistant = _check(Assistant, item, f"assistants.json[{index}]", export.problems)
        if assistant is not None:
            export.assistants.append(assistant)


def _read_files_index(directory: Path, export: Export) -> None:
    path = directory / FILES_INDEX
    if not path.exists():
        return
    try:
        raw = _read_json(path)
    except (ValueError, UnicodeDecodeError) as error:
        export.problems.append(Problem(FILES_INDEX, None, f"not valid JSON ({error})"))
        return
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        file = _check(FileObject, item, f"{FILES_INDEX}[{index}]", export.problems)
        if file is not None:
            export.files.setdefault(file.id, file)


def _read_stores(directory: Path, export: Export) -> None:
    path = directory / STORES_INDEX
    if not path.exists():
        return
    try:
        raw = _read_json(path)
    except (ValueError, UnicodeDecodeError) as error:
        export.problems.append(Problem(STORES_INDEX, None, f"not valid JSON ({error})"))
        return
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        where = f"{STORES_INDEX}[{index}]"
        if not isinstance(item, dict):
            export.problems.append(Problem(where, None, "not a JSON object"))
            continue
        store = _check(
            VectorStore, item.get("vector_store"), f"{where}.vector_store", export.problems
        )
        if store is None:
            continue
        found = StoreExport(store)
        for position, raw_file in enumerate(item.get("files") or []):
            file = _check(VectorStoreFile, raw_file, f"{where}.files[{position}]", export.problems)
            if file is not None and file.vector_store_id == store.id:
                found.files.append(file)
        export.stores.append(found)


def _read_thread(path: Path, where: str, export: Export) -> None:
    problems = export.problems
    try:
        raw = _read_json(path)
    except (ValueError, UnicodeDecodeError) as error:
        problems.append(Problem(where, path.stem, f"not valid JSON ({error}); thread skipped"))
        return
    if not isinstance(raw, dict):
        problems.append(Problem(where, path.stem, "not a JSON object; thread skipped"))
        return
    thread_id = raw.get("thread_id") or path.stem
    if raw.get("export_schema") != THREAD_SCHEMA:
        problems.append(
            Problem(
                where,
                thread_id,
                f"export_schema {raw.get('export_schema')!r} is not {THREAD_SCHEMA!r}; "
                "thread skipped",
            )
        )
        return
    for file_id, item in (raw.get("files") or {}).items():
        file = _check(FileObject, item, f"{where}: files.{file_id}", problems)
        if file is not None:
            export.files.setdefault(file.id, file)
    thread = None
    if raw.get("thread") is None:
        problems.append(Problem(where, thread_id, "the thread itself is missing from the export"))
    else:
        thread = _check(Thread, raw["thread"], f"{where}: thread", problems)
    messages = raw.get("messages") or []
    runs = raw.get("runs") or []
    if thread is None:
        for index, item in enumerate(messages):
            object_id = item.get("id") if isinstance(item, dict) else None
            problems.append(
                Problem(f"{where}: messages[{index}]", object_id, "its thread is missing")
            )
        for index, item in enumerate(runs):
            object_id = item.get("id") if isinstance(item, dict) else None
            problems.append(Problem(f"{where}: runs[{index}]", object_id, "its thread is missing"))
        return
    found = ThreadExport(thread=thread)
    for index, item in enumerate(messages):
        message = _check(Message, item, f"{where}: messages[{index}]", problems)
        if message is None:
            continue
        if message.thread_id != thread.id:
            problems.append(
                Problem(
                    f"{where}: messages[{index}]",
                    message.id,
                    f"its thread {message.thread_id} is missing (this file is {thread.id})",
                )
            )
            continue
        found.messages.append(message)
    for index, item in enumerate(runs):
        _read_run(item, f"{where}: runs[{index}]", thread.id, found, problems)
    export.threads.append(found)


def _read_run(
    item: Any, where: str, thread_id: str, found: ThreadExport, problems: list[Problem]
) -> None:
    steps = item.pop("steps", None) if isinstance(item, dict) else None
    run = _check(Run, item, where, problems)
    if run is None:
        for index, step in enumerate(steps or []):
            step_id = step.get("id") if isinstance(step, dict) else None
            problems.append(Problem(f"{where}.steps[{index}]", step_id, "its run was skipped"))
        return
    if run.thread_id != thread_id:
        problems.append(Problem(where, run.id, f"its thread {run.thread_id} is missing"))
        return
    found.runs.append(run)
    for index, raw_step in enumerate(steps or []):
        step = _check(RunStep, raw_step, f"{where}.steps[{index}]", problems)
        if step is None:
            continue
        if step.run_id != run.id or step.thread_id != thread_id:
            problems.append(
                Problem(f"{where}.steps[{index}]", step.id, "it names another run or thread")
            )
            continue
        found.steps.append(step)


def file_refs(node: Any, found: list[str]) -> None:
    """Append every file id `node` (a JSON value) names: `file_id` keys and `file_ids` lists."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "file_id" and isinstance(value, str):
                found.append(value)
            elif key == "file_ids" and isinstance(value, list):
                found += [item for item in value if isinstance(item, str)]
            else:
                file_refs(value, found)
    elif isinstance(node, list):
        for item in node:
            file_refs(item, found)
