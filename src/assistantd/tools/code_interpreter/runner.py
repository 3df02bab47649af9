"""The code interpreter tool: runs the model's code in the thread's sandbox session and turns
what comes back into run-step outputs, Files and message parts.

* Inputs: the assistant's and thread's `tool_resources.code_interpreter.file_ids` and message
  attachments for the code interpreter are copied to `/mnt/data/<original name>` first.
* Outputs: stdout/stderr stream as one `logs` output (deltas as they are produced); each figure
  becomes a File (`assistants_output`), an `image` output, and an `image_file` part of the next
  assistant message; other files the code writes become Files, and `sandbox:/mnt/data/<name>`
  links in the answer get `file_path` annotations (see `finalize`).
* Failures of the code are outputs the model reads (tracebacks, plus a plain note for timeouts,
  memory exhaustion and restarted sessions); only an unusable sandbox fails the run.
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
from typing import Any

from assistantd.assistants import store as assistants_store
from assistantd.db.engine import Database
from assistantd.events import deltas
from assistantd.files import service as files_service
from assistantd.files import store as files_store
from assistantd.files.blobs import BlobStore
from assistantd.files.schemas import is_placeholder
from assistantd.messages import store as messages_store
from assistantd.messages.schemas import (
    FilePath,
    FilePathAnnotation,
    ImageFile,
    ImageFileContentBlock,
    MessageContent,
    TextContentBlock,
)
from assistantd.observability import Metrics
from assistantd.run_steps.schemas import (
    CodeInterpreter,
    CodeInterpreterOutput,
    CodeInterpreterOutputImage,
    CodeInterpreterOutputImageImage,
    CodeInterpreterOutputLogs,
    CodeInterpreterToolCall,
    ToolCall,
)
from assistantd.runs import fence as fencing
from assistantd.runs.schemas import Run
from assistantd.settings import Settings
from assistantd.threads import store as threads_store
from assistantd.tools.base import ToolContext, ToolUnavailable, Transaction
from assistantd.tools.code_interpreter.events import (
    Done,
    Image,
    LogChunk,
    SandboxError,
    SandboxUnavailable,
)
from assistantd.tools.code_interpreter.follow import SessionManifests, follow
from assistantd.tools.code_interpreter.recent import RecentMap
from assistantd.tools.code_interpreter.sandbox import Sandbox

MAX_OUTPUT_FILES = 50
# How many threads (and runs) the per-thread (per-run) memory below covers: the most recent.
RECENT_THREADS = 1024
RECENT_RUNS = 1024
RESET_NOTE = (
    "[The Python session was restarted since the last call: earlier variables and "
    "imports are gone. Files in /mnt/data are still there.]\n"
)
# A link to a sandbox file as models write it, right or a little wrong:
# sandbox:/mnt/data/x.csv, sandbox://mnt/data/x.csv, sandbox:x.csv, /mnt/data/x.csv
SANDBOX_LINK = re.compile(
    r"(?:sandbox:/{0,2}(?:mnt/data/)?|(?<![\w/])/mnt/data/)"
    r"(?P<path>[^\s()\[\]<>\"'`]+[^\s()\[\]<>\"'`.,;:!?])"
)


def done_note(done: Done, settings: Settings) -> str:
    if done.status == "timeout":
        return (
            f"\n[The code ran longer than the {settings.sandbox.exec_timeout_s:g} s limit and "
            "was stopped.]"
        )
    if done.status == "oom":
        limit = settings.sandbox.memory_bytes / 1024**3
        return (
            f"\n[The code ran out of memory (limit {limit:g} GiB) and the Python session was "
            "restarted: variables are gone, files in /mnt/data are kept.]"
        )
    if done.quota_exceeded:
        limit = settings.sandbox.data_bytes / 1024**2
        return (
            f"\n[The files in /mnt/data grew past the {limit:g} MiB quota: the files this "
            "code wrote were removed.]"
        )
    if done.status == "killed":
        return (
            "\n[The Python session died and was restarted: variables are gone, files in "
            "/mnt/data are kept.]"
        )
    return ""


class CodeInterpreterRunner:
    tool_type = "code_interpreter"

    def __init__(
        self,
        settings: Settings,
        sandbox: Sandbox,
        db: Database,
        blobs: BlobStore,
        *,
        manifests: SessionManifests | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._sandbox = sandbox
        self._db = db
        self._blobs = blobs
        # Bounded: a thread forgotten here gets its inputs staged again on its next call.
        self._staged = RecentMap[set[str]](RECENT_THREADS, set)  # thread -> file ids copied in
        self._made = RecentMap[dict[str, str]](RECENT_THREADS, dict)  # thread -> path -> file id
        # /mnt/data follows the thread across nodes
        self._manifests = manifests or SessionManifests(blobs)
        # A run that ends without an answer never pops its entry: bounded too.
        self._images = RecentMap[list[str]](RECENT_RUNS, list)  # run -> images for its answer

    async def run(self, call: ToolCall, context: ToolContext) -> ToolCall:
        assert isinstance(call, CodeInterpreterToolCall)
        session = context.run.thread_id
        try:
            await self._stage_inputs(context)
            before = dict(self._made[session])
            moved = await follow(self._manifests, self._sandbox, session, self._made[session])
            outputs = await self._execute(
                session, call.code_interpreter.input, context, moved.reset
            )
            if moved.stale or self._made[session] != before:
                await self._manifests.save(
                    session,
                    self._made[session],
                    ran=self._manifests.node,
                    transaction=self._transaction(context),
                )
        except SandboxUnavailable as error:
            raise ToolUnavailable(f"The code interpreter is unavailable: {error}") from error
        except BaseException:
            if context.fence is not None and context.fence.lost:
                await self._drop(session, context.run.id)
            raise
        return call.model_copy(
            update={
                "code_interpreter": CodeInterpreter(
                    input=call.code_interpreter.input, outputs=outputs
                )
            }
        )

    async def interrupt(self, context: ToolContext) -> None:
        await self._sandbox.interrupt(context.run.thread_id)

    def _transaction(self, context: ToolContext) -> Transaction:
        """The call's writes: fenced by the run's lease (several nodes)."""
        return functools.partial(fencing.write, self._db, context.fence)

    async def _drop(self, session: str, run_id: str) -> None:
        """The run was taken over while this (stale) execution ran its code: what the call
        left in this node's copy of the session (files in /mnt/data, the kernel's variables)
        is no one's, and its writes were refused. Drop that copy: the thread's next call here
        starts a new session from its manifest."""
        self._made.pop(session)
        self._staged.pop(session)
        self._images.pop(run_id)
        self._manifests.dropped(session)
        with contextlib.suppress(Exception):  # best effort: the reaper removes it otherwise
            await self._sandbox.close_session(session, delete_files=True)

    async def _execute(
        self, session: str, code: str, context: ToolContext, reset: bool = False
    ) -> list[CodeInterpreterOutput]:
        outputs: list[CodeInterpreterOutput] = []
        logs: list[str] = []
        log_index: int | None = None

        def add_log(text: str) -> None:
            nonlocal log_index
            if log_index is None:
                log_index = len(outputs)
                outputs.append(CodeInterpreterOutputLogs(logs=""))
            logs.append(text)
            context.publish(deltas.code_logs(context.step.id, context.index, log_index, text))

        started = time.perf_counter()
        async for event in self._sandbox.execute(session, code):
            if isinstance(event, LogChunk):
                add_log(event.text)
            elif isinstance(event, Image):
                file_id = await self._save_output(
                    context, f"{context.step.id}-{len(outputs)}.png", event.png
                )
                self._images[context.run.id].append(file_id)
                context.publish(
                    deltas.code_image(context.step.id, context.index, len(outputs), file_id)
                )
                outputs.append(
                    CodeInterpreterOutputImage(
                        image=CodeInterpreterOutputImageImage(file_id=file_id)
                    )
                )
            elif isinstance(event, Done):
                if self._metrics is not None:
                    self._metrics.sandbox_exec.labels(event.status).observe(
                        time.perf_counter() - started
                    )
                if event.session_reset or reset:  # reset: the kernel that ran it is elsewhere
                    add_log(RESET_NOTE)
                if note := done_note(event, self._settings):
                    add_log(note)
                await self._collect_files(session, event, context)
        if log_index is not None:
            outputs[log_index] = CodeInterpreterOutputLogs(logs="".join(logs))
        return outputs

    async def _stage_inputs(self, context: ToolContext) -> None:
        """Copy the thread's code-interpreter files into /mnt/data (once per server life)."""
        run = context.run
        staged = self._staged[run.thread_id]
        wanted = [
            file_id
            for file_id in await self._input_ids(context.project, run)
            if file_id not in staged
        ]
        if not wanted:
            return
        async with self._db.read() as conn:
            files = await files_store.get_many(conn, context.project, wanted)
        for file in files:
            if is_placeholder(file):
                continue  # imported without its bytes: staged once they are attached
            await self._sandbox.put_file(
                run.thread_id, file.filename, await self._blobs.read(file.id)
            )
            staged.add(file.id)

    async def _input_ids(self, project: str, run: Run) -> list[str]:
        async with self._db.read() as conn:
            assistant = await assistants_store.get(conn, project, run.assistant_id)
            thread = await threads_store.get(conn, project, run.thread_id)
            messages = await messages_store.of_thread(conn, run.thread_id)
        ids: list[str] = []
        for owner in (assistant, thread):
            resources = owner.tool_resources if owner is not None else None
            if resources is not None and resources.code_interpreter is not None:
                ids += resources.code_interpreter.file_ids
        for message in messages:
            for attachment in message.attachments or ():
                if any(tool.type == "code_interpreter" for tool in attachment.tools):
                    ids.append(attachment.file_id)
        return list(dict.fromkeys(ids))

    async def _collect_files(self, session: str, done: Done, context: ToolContext) -> None:
        """Files the code wrote become Files (assistants_output) the answer can link to."""
        made = self._made[session]
        for changed in done.files[:MAX_OUTPUT_FILES]:
            try:
                data = await self._sandbox.read_file(session, changed.path)
            except SandboxError:
                continue  # vanished, a symlink, too large: not offered
            made[changed.path] = await self._save_output(
                context, changed.path.rsplit("/", 1)[-1], data
            )

    async def _save_output(self, context: ToolContext, name: str, data: bytes) -> str:
        file = await files_service.create_output(
            self._transaction(context), self._blobs, context.project, name, data
        )
        return file.id

    # --- the answer after the tool calls ---------------------------------------------------------

    async def finalize(
        self, run: Run, message_id: str, blocks: list[MessageContent], publish: Any
    ) -> list[MessageContent]:
        """Annotate sandbox links and add the run's figures to a completed assistant message."""
        blocks = list(blocks)
        made = self._made.get(run.thread_id) or {}
        for index, block in enumerate(blocks):
            if not isinstance(block, TextContentBlock):
                continue
            found = _link_annotations(block.text.value, made)
            if not found:
                continue
            start = len(block.text.annotations)
            block.text.annotations = [*block.text.annotations, *found]
            publish(deltas.annotations_delta(message_id, index, start, found))
        for file_id in self._images.pop(run.id) or []:
            blocks.append(ImageFileContentBlock(image_file=ImageFile(file_id=file_id)))
            publish(deltas.image_file_delta(message_id, len(blocks) - 1, file_id))
        return blocks


def _link_annotations(text: str, made: dict[str, str]) -> list[FilePathAnnotation]:
    annotations = []
    for match in SANDBOX_LINK.finditer(text):
        file_id = made.get(match.group("path"))
        if file_id is not None:
            annotations.append(
                FilePathAnnotation(
                    text=match.group(0),
                    file_path=FilePath(file_id=file_id),
                    start_index=match.start(),
                    end_index=match.end(),
                )
            )
    return annotations
