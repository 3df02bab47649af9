"""The run loop: drives one run from `queued` to a terminal status or `requires_action`.

    load → in_progress → [ context → model call → tools ]* → completed | requires_action |
                                                             incomplete | failed | cancelled

Every status change goes through `runs.state` and is written (compare-and-set on the stored
status, so a concurrent cancel is never lost) before its event is published: the thread lock is
free before a client sees the terminal event and `done`. A run's life does not depend on any
HTTP connection; the scheduler owns the task.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from assistantd.clock import unix_now
from assistantd.db import documents
from assistantd.db.engine import Database, background
from assistantd.events import models as ev
from assistantd.events.broker import Broker
from assistantd.executor.accumulator import ChatAccumulator
from assistantd.executor.context import ContextResult, build_context
from assistantd.executor.fence import Fence, Fenced
from assistantd.executor.readiness import wait_for_thread_files
from assistantd.executor.request import UnsupportedTool, chat_request
from assistantd.executor.transcript import render_transcript
from assistantd.executor.turn import ModelTurn, TurnResult
from assistantd.executor.writeback import WriteBehind
from assistantd.files import store as files_store
from assistantd.files.blobs import BlobStore
from assistantd.files.schemas import is_placeholder
from assistantd.messages import store as messages_store
from assistantd.messages.schemas import ImageFileContentBlock, Message
from assistantd.observability import OFF, Telemetry
from assistantd.observability.tracing import clip, mark_error, run_attributes, set_attributes
from assistantd.run_steps import service as steps_service
from assistantd.run_steps import store as steps_store
from assistantd.run_steps.schemas import (
    FunctionToolCall,
    LastError,
    RunStep,
    RunStepStatus,
    ToolCallsStepDetails,
)
from assistantd.runs import endings, state, store
from assistantd.runs.schemas import IncompleteDetails, Run, RunStatus
from assistantd.runs.state import RunEnd
from assistantd.schemas import Usage
from assistantd.settings import Settings
from assistantd.tokens import count_tokens
from assistantd.tools.base import (
    CODE_INTERPRETER_DEFINITION,
    CODE_INTERPRETER_FUNCTION,
    FILE_SEARCH_DEFINITION,
    FILE_SEARCH_FUNCTION,
    ToolContext,
    ToolRunner,
    ToolUnavailable,
)
from assistantd.upstream import UpstreamClient, UpstreamError

log = logging.getLogger(__name__)

SERVER_TOOL_DEFINITIONS: dict[str, dict[str, Any]] = {
    "code_interpreter": CODE_INTERPRETER_DEFINITION,
    "file_search": FILE_SEARCH_DEFINITION,
}


class RunEnded(Exception):
    """The run reached a terminal status inside a phase; the loop stops."""


@dataclass
class RunContext:
    project: str
    run: Run
    writer: WriteBehind
    turn: ModelTurn | None = None
    tool: tuple[ToolRunner, ToolContext] | None = None  # the server tool call under way
    stored: Run | None = None  # the run as last read or written: writes set what differs
    fence: Fence | None = None  # several nodes: the lease this execution must hold to write

    def __post_init__(self) -> None:
        if self.stored is None:
            self.stored = self.run


class RunExecutor:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        broker: Broker,
        upstream: UpstreamClient,
        blobs: BlobStore,
        runners: Mapping[str, ToolRunner] | None = None,
        *,
        telemetry: Telemetry = OFF,
    ) -> None:
        self._settings = settings
        self._metrics = telemetry.metrics
        self._tracing = telemetry.tracing
        self._db = db
        self._broker = broker
        self._upstream = upstream
        self._blobs = blobs
        self._runners = dict(runners or {})
        self.shutting_down = False
        self.includes: dict[str, list[str]] = {}  # run id -> `include[]` of its create request

    # --- entry point -----------------------------------------------------------------------------

    async def execute(self, run_id: str, fence: Fence | None = None) -> None:
        """Drive the run; with `fence` (several nodes), every write proves the lease first."""
        with background():  # an accepted run waits for the database, it is never refused
            await self._load_and_execute(run_id, fence)

    async def _load_and_execute(self, run_id: str, fence: Fence | None) -> None:
        async with self._db.read() as conn:
            loaded = await store.get_by_id(conn, run_id)
        if loaded is None or state.is_terminal(loaded[1].status):
            return
        project, run = loaded
        writer = WriteBehind(self._db, project, fence=fence)
        ctx = RunContext(project, run, writer, fence=fence)
        with self._tracing.span("run", run_attributes(run)) as span:
            try:
                await self._execute(ctx)
            finally:
                status = ctx.run.status
                set_attributes(span, **{"assistantd.run.status": status})
                if status == "failed":
                    mark_error(span, ctx.run.last_error.code if ctx.run.last_error else "failed")
                log.info(
                    "run %s is %s",
                    run_id,
                    status,
                    extra={"run_id": run_id, "thread_id": run.thread_id, "status": status},
                )

    async def _execute(self, ctx: RunContext) -> None:
        run_id = ctx.run.id
        try:
            await self._drive(ctx)
        except asyncio.CancelledError:
            if ctx.fence is None or not ctx.fence.stopped:
                with contextlib.suppress(Fenced):
                    await asyncio.shield(self._stopped(ctx))
            raise
        except (RunEnded, Fenced):
            pass  # Fenced: another attempt owns the run now; this one writes nothing more
        except UpstreamError as error:
            await self._fail_unless_fenced(ctx, error.code, error.message)
        except (UnsupportedTool, ToolUnavailable) as error:
            await self._fail_unless_fenced(ctx, "server_error", str(error))
        except Exception:
            log.exception("run %s failed", run_id)
            await self._fail_unless_fenced(
                ctx, "server_error", "The server had an error while running."
            )
        finally:
            await asyncio.shield(ctx.writer.close())
            if state.is_terminal(ctx.run.status):
                self.includes.pop(run_id, None)

    async def _drive(self, ctx: RunContext) -> None:
        if ctx.run.status == "cancelling":
            raise asyncio.CancelledError
        if ctx.run.status == "queued":
            await self._advance(ctx, "in_progress")
        await wait_for_thread_files(self._db, ctx.project, ctx.run)
        while await self._model_call(ctx):
            pass

    # --- one model call ---------------------------------------------------------------------------

    async def _model_call(self, ctx: RunContext) -> bool:
        """One upstream call and what follows; True when the loop should call the model again."""
        run = ctx.run
        used = run.usage or Usage(prompt_tokens=0, completion_tokens=0, total_tokens=0)
        completion_left = _left(run.max_completion_tokens, used.completion_tokens)
        if completion_left is not None and completion_left <= 0:
            await self._incomplete(ctx, "max_completion_tokens")
        messages, prompt_tokens = await self._context(
            ctx, _left(run.max_prompt_tokens, used.prompt_tokens)
        )
        body = chat_request(
            run,
            messages,
            max_completion_tokens=completion_left,
            server_tools=SERVER_TOOL_DEFINITIONS,
        )
        ctx.turn = ModelTurn(
            run,
            self._publisher(run),
            ctx.writer.save,
            code_tool_name=CODE_INTERPRETER_FUNCTION,
            file_search_tool_name=FILE_SEARCH_FUNCTION,
            finalize=self._finalizer(run),
        )
        accumulator = ChatAccumulator()
        attributes = {**run_attributes(run), "gen_ai.request.model": run.model}
        with self._tracing.span(f"chat {run.model}", attributes) as span:
            if span is not None and self._tracing.content:
                span.set_attribute("gen_ai.prompt", clip(messages))
            started = time.perf_counter()
            first: float | None = None
            async with contextlib.aclosing(self._upstream.stream_chat(body)) as chunks:
                async for chunk in chunks:
                    if first is None:
                        first = time.perf_counter()
                    await ctx.turn.feed(accumulator.add(chunk))
            result = await ctx.turn.finish(accumulator)
            ctx.turn = None
            usage = _add(used, result, prompt_tokens)
            ctx.run = run = run.model_copy(update={"usage": usage})
            completion = usage.completion_tokens - used.completion_tokens
            prompt = usage.prompt_tokens - used.prompt_tokens
            self._tracing.model_call_done(
                span, prompt, completion, result.finish_reason, result.text
            )
        if self._metrics is not None and first is not None:
            streaming = time.perf_counter() - first
            self._metrics.model_call(run.model, first - started, streaming, prompt, completion)
        if result.tool_calls:
            return await self._tool_calls(ctx, result)
        if result.finish_reason == "length" and run.max_completion_tokens is not None:
            await self._incomplete(ctx, "max_completion_tokens")
        await self._advance(ctx, "completed")
        return False

    async def _context(
        self, ctx: RunContext, prompt_left: int | None
    ) -> tuple[list[dict[str, Any]], int]:
        run = ctx.run
        await ctx.writer.flush()
        async with self._db.read() as conn:
            keys: dict[str, str] = {}  # id -> sort key (imported objects keep foreign ids)
            rows = await messages_store.rows_of_thread(conn, run.thread_id)
            # parsing, rendering and counting a long thread happen off the event loop (each
            # took tens of ms there, during which every other stream of the process waited)
            thread_messages = await asyncio.to_thread(
                functools.partial(messages_store.parse_thread, shared=True),
                rows,
                run.thread_id,
                keys,
            )
            steps = await steps_store.tool_steps_of_thread(conn, run.thread_id, keys)
            images = await self._image_urls(conn, ctx.project, thread_messages)

        def render_and_count() -> ContextResult:
            items: list[Message | RunStep] = [*thread_messages, *steps]
            items.sort(key=lambda item: _order_key(keys[item.id]))
            rendered = render_transcript(
                items,
                image_url_for=images.get,
                tool_names={
                    "code_interpreter": CODE_INTERPRETER_FUNCTION,
                    "file_search": "file_search",
                },
            )
            return build_context(
                run.instructions or None,
                rendered,
                model=run.model,
                strategy=run.truncation_strategy,
                max_prompt_tokens=prompt_left,
                context_windows=self._settings.context_windows,
            )

        built = await asyncio.to_thread(render_and_count)
        if not built.fits:
            if run.max_prompt_tokens is not None:
                await self._incomplete(ctx, "max_prompt_tokens")
            await self._fail(
                ctx, "invalid_prompt", "The thread does not fit the model's context window."
            )
            raise RunEnded
        return built.messages, built.prompt_tokens

    async def _image_urls(self, conn: Any, project: str, messages: list[Message]) -> dict[str, str]:
        """Data URLs for the image files in the thread (vision models get the pixels)."""
        ids = {
            part.image_file.file_id
            for message in messages
            for part in message.content
            if isinstance(part, ImageFileContentBlock)
        }
        urls: dict[str, str] = {}
        for file in await files_store.get_many(conn, project, sorted(ids)):
            if is_placeholder(file):
                continue  # imported without its bytes
            data = await self._blobs.read(file.id)
            kind = "png" if data.startswith(b"\x89PNG") else "jpeg"
            encoded = await asyncio.to_thread(base64.b64encode, data)  # MBs: not on the loop
            urls[file.id] = f"data:image/{kind};base64,{encoded.decode()}"
        return urls

    # --- tools -----------------------------------------------------------------------------------

    async def _tool_calls(self, ctx: RunContext, result: TurnResult) -> bool:
        step = result.tool_step
        assert step is not None
        calls = list(result.tool_calls)
        for index, call in enumerate(calls):
            if isinstance(call, FunctionToolCall):
                continue
            runner = self._runners.get(call.type)
            if runner is None:
                raise ToolUnavailable(f"The {call.type} tool is not available on this server.")
            context = ToolContext(
                ctx.project,
                ctx.run,
                step,
                index,
                self._publisher(ctx.run),
                result.arguments.get(call.id, ""),
            )
            ctx.tool = (runner, context)
            attributes = {
                **run_attributes(ctx.run),
                "assistantd.tool.type": call.type,
                "assistantd.tool_call_id": call.id,
                "assistantd.step_id": step.id,
            }
            with self._tracing.span(f"tool {call.type}", attributes):
                calls[index] = await runner.run(call, context)
            ctx.tool = None
        step = step.model_copy(update={"step_details": ToolCallsStepDetails(tool_calls=calls)})
        functions = [call for call in calls if isinstance(call, FunctionToolCall)]
        if functions:
            await self._save_step(ctx, step)
            action = {
                "type": "submit_tool_outputs",
                "submit_tool_outputs": {
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {
                                "name": c.function.name,
                                "arguments": c.function.arguments,
                            },
                        }
                        for c in functions
                    ]
                },
            }
            await self._advance(ctx, "requires_action", required_action=action)
            return False
        await self._close_step(ctx, step, "completed")
        return True

    # --- endings ---------------------------------------------------------------------------------

    async def _incomplete(
        self, ctx: RunContext, reason: Literal["max_completion_tokens", "max_prompt_tokens"]
    ) -> None:
        await self._advance(ctx, "incomplete", incomplete_details=IncompleteDetails(reason=reason))
        raise RunEnded

    async def _fail(self, ctx: RunContext, code: str, message: str) -> None:
        error = LastError(
            code=code if code != "invalid_prompt" else "server_error", message=message
        )
        if ctx.turn is not None:
            await ctx.turn.abort("failed", error)
            ctx.turn = None
        await self._close_open_steps(ctx, "failed", error)
        if not state.is_terminal(ctx.run.status):
            await self._advance(ctx, "failed", last_error={"code": code, "message": message})

    async def _fail_unless_fenced(self, ctx: RunContext, code: str, message: str) -> None:
        if ctx.fence is not None and ctx.fence.stopped:
            return
        with contextlib.suppress(Fenced):
            await self._fail(ctx, code, message)

    async def _stopped(self, ctx: RunContext) -> None:
        """The task was cancelled: by a user's cancel (the run is `cancelling`) or by shutdown."""
        async with self._db.read() as conn:
            loaded = await store.get_by_id(conn, ctx.run.id)
        if loaded is None or state.is_terminal(loaded[1].status):
            return
        ctx.run = ctx.stored = loaded[1]
        if ctx.tool is not None:
            runner, context = ctx.tool
            with contextlib.suppress(Exception):  # best effort: the run ends either way
                await runner.interrupt(context)
        if ctx.run.status != "cancelling":
            await self._fail(ctx, "server_error", "The server stopped before the run finished.")
            return
        if ctx.turn is not None:
            await ctx.turn.abort("cancelled")
        await self._close_open_steps(ctx, "cancelled", None)
        await self._advance(ctx, "cancelled")

    async def _close_open_steps(self, ctx: RunContext, to: RunEnd, error: LastError | None) -> None:
        """What the turn did not close (e.g. a tool step whose tool was running) ends too."""
        await ctx.writer.flush()
        async with self._db.write() as conn:
            closed = await endings.close_open(conn, ctx.run.id, to, unix_now(), error)
        include = self.includes.get(ctx.run.id)
        for step, name in closed:
            self._broker.publish(
                ctx.run.id, ev.step_event(name, steps_service.shown(step, include))
            )

    async def _close_step(self, ctx: RunContext, step: RunStep, to: RunStepStatus) -> None:
        closed, name = state.advance_step(step, to, unix_now())
        await ctx.writer.save(closed, read=step)
        await ctx.writer.flush()
        self._broker.publish(
            ctx.run.id,
            ev.step_event(name, steps_service.shown(closed, self.includes.get(ctx.run.id))),
        )

    # --- state and storage -----------------------------------------------------------------------

    async def _advance(self, ctx: RunContext, to: RunStatus, **changes: Any) -> None:
        """Write the transition (compare-and-set), then publish it. If a cancel got in first,
        the run is `cancelling` and moves on from there."""
        while True:
            before = ctx.run.status
            run, name = state.advance(ctx.run, to, unix_now(), **changes)
            assert ctx.stored is not None
            # Only what this run changed is written (metadata modified meanwhile stays).
            diff = documents.changed(ctx.stored, run)
            # the writer's transaction: no timed flush of this run is under way until it commits;
            # with a fence, it proves this execution still holds the run's lease
            async with ctx.writer.transaction() as conn:
                stored = await store.patch(conn, run.id, diff, expected_status=before)
                if stored is not None:
                    await ctx.writer.flush(conn)  # what the run made, with its new status
                    if ctx.fence is not None and _stops_running(to):
                        await ctx.fence.release(conn)  # another node may resume it now
                    break
                loaded = await store.get_by_id(conn, run.id)
            assert loaded is not None
            current = loaded[1]
            if not state.can_transition(current.status, to):
                raise RunEnded  # e.g. cancelled meanwhile
            ctx.run = ctx.run.model_copy(update={"status": current.status})
        ctx.run = ctx.stored = run = stored
        self._broker.publish(run.id, ev.run_event(name, run))
        self.observe_status(to)

    def observe_status(self, status: str) -> None:
        """Count a run entering `status` (the scheduler reports the runs it closes)."""
        if self._metrics is not None:
            self._metrics.runs.labels(status).inc()

    def _finalizer(self, run: Run) -> Any:
        """Completes an answer with what the run's tools produced (citations, file links,
        figures): each runner that has a `finalize` gets its turn."""
        steps = [
            runner.finalize for runner in self._runners.values() if hasattr(runner, "finalize")
        ]

        async def finalize(message_id: str, blocks: Any, publish: Any) -> Any:
            for step in steps:
                blocks = await step(run, message_id, blocks, publish)
            return blocks

        return finalize if steps else None

    def _publisher(self, run: Run) -> Any:
        return lambda event: self._broker.publish(run.id, event)

    async def _save_step(self, ctx: RunContext, step: RunStep) -> None:
        """Save now (through the write-behind queue, so no older copy can overwrite it)."""
        await ctx.writer.save(step)
        await ctx.writer.flush()


def _stops_running(status: RunStatus) -> bool:
    """The run leaves the executor: it ended, or it waits for the client's tool outputs."""
    return status == "requires_action" or state.is_terminal(status)


def _left(budget: int | None, used: int) -> int | None:
    return None if budget is None else budget - used


def _add(used: Usage, result: TurnResult, prompt_tokens: int) -> Usage:
    if result.usage is not None:
        prompt, completion = result.usage.prompt_tokens, result.usage.completion_tokens
    else:  # the upstream did not report usage: count it ourselves
        arguments = "".join(
            c.function.arguments or "" for c in result.tool_calls if isinstance(c, FunctionToolCall)
        )
        prompt, completion = prompt_tokens, count_tokens(result.text + arguments)
    prompt += used.prompt_tokens
    completion += used.completion_tokens
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def _order_key(sort_key: str) -> str:
    """Sort keys of every kind order by creation time after their prefix (see ids.py)."""
    return sort_key.split("_", 1)[-1].split("-", 1)[-1]
