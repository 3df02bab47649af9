"""The code_interpreter tool of responses: the model's code runs in a container (a sandbox
session, see containers/), the call becomes a `code_interpreter_call` item with its events,
files the code writes become container files, and `sandbox:/mnt/data/...` links in the answer
become `container_file_citation` annotations.

The code is announced whole once the model has finished writing it (one `code.delta`), not
token by token.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd import ids
from assistantd.containers import service as containers
from assistantd.containers import store as containers_store
from assistantd.containers.schemas import ContainerFile, CreateContainerRequest, is_expired
from assistantd.db.engine import Database
from assistantd.errors import NotFoundError, ServiceUnavailableError
from assistantd.items.schemas import (
    CodeInterpreterCallItem,
    CodeOutput,
    ImageOutput,
    Item,
    LogsOutput,
)
from assistantd.responses_api.output import OutputBuilder, ServerCall
from assistantd.responses_api.schemas import AutoContainer, CodeInterpreterToolParam
from assistantd.settings import Settings
from assistantd.tools.code_interpreter.events import Done, Image, LogChunk, SandboxError
from assistantd.tools.code_interpreter.follow import SessionManifests, follow
from assistantd.tools.code_interpreter.runner import RESET_NOTE, SANDBOX_LINK, done_note
from assistantd.tools.code_interpreter.sandbox import Sandbox


@dataclass
class CodeState:
    """The container a response's code runs in (made on first use for `auto`), and the files
    its code wrote (relative path -> container file) for the answer's citations."""

    container_id: str | None
    made: dict[str, ContainerFile] = field(default_factory=dict)


async def resolve_container(
    conn: AsyncConnection,
    project: str,
    tool: CodeInterpreterToolParam,
    history: Sequence[Item],
    param: str,
) -> str | None:
    """The container named by the tool (it must exist and not be expired), or for `auto` the
    one the earlier code calls of the chain or conversation used, if it is still there and
    running (else a new one is made, as OpenAI does)."""
    if isinstance(tool.container, str):
        if await containers_store.get(conn, project, tool.container) is None:
            raise NotFoundError.for_id("container", tool.container, param=param)
        await containers.usable(conn, project, tool.container, param)
        return tool.container
    now = time.time()
    for item in reversed(history):
        if not isinstance(item, CodeInterpreterCallItem):
            continue
        found = await containers_store.get(conn, project, item.container_id)
        if found is not None and not is_expired(found, now):
            return item.container_id
    return None


def _code(arguments: str) -> str:
    try:
        parsed: Any = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return arguments  # some models send the bare code
    return str(parsed.get("code", "")) if isinstance(parsed, dict) else str(parsed)


class CodeInterpreter:
    def __init__(
        self,
        db: Database,
        sandbox: Sandbox | None,
        manifests: SessionManifests,
        settings: Settings,
    ) -> None:
        self._db = db
        self._manifests = manifests
        blobs = manifests.blobs
        self._sandbox = sandbox
        self._blobs = blobs
        self._settings = settings

    async def run(
        self,
        builder: OutputBuilder,
        call: ServerCall,
        tool: CodeInterpreterToolParam,
        project: str,
        state: CodeState,
    ) -> None:
        sandbox = containers.need_sandbox(self._sandbox)
        if state.container_id is None:
            files = tool.container.file_ids if isinstance(tool.container, AutoContainer) else []
            request = CreateContainerRequest(name="auto", file_ids=files or None)
            made = await containers.create(self._db, sandbox, self._manifests, project, request)
            state.container_id = made.id
        container_id = state.container_id
        code = _code(call.arguments)
        item = CodeInterpreterCallItem(
            id=ids.new_id(ids.CODE_INTERPRETER_CALL),
            status="in_progress",
            container_id=container_id,
            code="",
        )
        index = builder.add_item(item)
        where = {"output_index": index, "item_id": item.id}
        builder.progress(index, "response.code_interpreter_call.in_progress")
        builder.event("response.code_interpreter_call_code.delta", **where, delta=code)
        builder.event("response.code_interpreter_call_code.done", **where, code=code)
        builder.progress(index, "response.code_interpreter_call.interpreting")
        try:
            outputs = await self._execute(sandbox, project, container_id, code, state)
        except SandboxError as exc:
            builder.done_item(index, item.model_copy(update={"status": "failed", "code": code}))
            raise ServiceUnavailableError(f"The code interpreter failed: {exc}") from exc
        await containers.touch(self._db, project, container_id)
        builder.progress(index, "response.code_interpreter_call.completed")
        done = item.model_copy(update={"status": "completed", "code": code, "outputs": outputs})
        builder.done_item(index, done)

    async def _execute(
        self, sandbox: Sandbox, project: str, container_id: str, code: str, state: CodeState
    ) -> list[CodeOutput]:
        logs: list[str] = []
        images: list[CodeOutput] = []
        # The container's files follow it to this node (its session here may be new).
        manifests = self._manifests
        followed: dict[str, str] = {}
        moved = await follow(manifests, sandbox, container_id, followed, containers.blob_key)
        async for event in sandbox.execute(container_id, code):
            if isinstance(event, LogChunk):
                logs.append(event.text)
            elif isinstance(event, Image):
                data = base64.b64encode(event.png).decode()
                images.append(ImageOutput(url=f"data:image/png;base64,{data}"))
            elif isinstance(event, Done):
                if event.session_reset or moved.reset:  # moved: the kernel that ran it is elsewhere
                    logs.insert(0, RESET_NOTE)
                if note := done_note(event, self._settings):
                    logs.append(note)
                recorded = await containers.record_outputs(
                    self._db, sandbox, self._blobs, project, container_id, event.files
                )
                for changed, file in zip(event.files, recorded, strict=True):
                    state.made[changed.path] = file
                    followed[changed.path] = file.id
        await manifests.save(container_id, followed, ran=manifests.node)
        outputs: list[CodeOutput] = [LogsOutput(logs="".join(logs))] if logs else []
        return outputs + images


def container_citations(text: str, state: CodeState) -> list[dict[str, Any]]:
    """`container_file_citation`s for the links to files the response's code wrote."""
    found = []
    for match in SANDBOX_LINK.finditer(text):
        file = state.made.get(match.group("path"))
        if file is not None:
            found.append(
                {
                    "type": "container_file_citation",
                    "container_id": file.container_id,
                    "file_id": file.id,
                    "filename": file.path.rsplit("/", 1)[-1],
                    "start_index": match.start(),
                    "end_index": match.end(),
                }
            )
    return found
