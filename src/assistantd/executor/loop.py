"""The run loop: drives one run from `queued` to a terminal status or `requires_action`.

    load → in_progress → [ context → model call → tools ]* → completed | requires_action |
                                                             incomplete | failed | cancelled

Every status change goes through `runs.state` and is written (compare-and-set on the stored
status, so a concurrent cancel is never lost) before its event is published (`transitions`):
the thread lock is free before a client sees the terminal event and `done`. A run's life does
not depend on any HTTP connection; the scheduler owns the task. The thread's context is read in
`thread_context`, server tools run in `tool_calls`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from assistantd.db.engine import Database, background
from assistantd.events.broker import Broker
from assistantd.executor import usage as budget
from assistantd.executor.accumulator import ChatAccumulator
from assistantd.executor.readiness import wait_for_thread_files
from assistantd.executor.request import UnsupportedTool, chat_request
from assistantd.executor.run_context import RunContext, RunEnded
from assistantd.executor.thread_context import load_context
from assistantd.executor.tool_calls import SERVER_TOOL_DEFINITIONS, ToolCalls
from assistantd.executor.transitions import RunTransitions, Started
from assistantd.executor.turn import ModelTurn
from assistantd.executor.writeback import WriteBehind
from assistantd.files.blobs import BlobStore
from assistantd.observability import OFF, Telemetry
from assistantd.observability.tracing import clip, mark_error, run_attributes, set_attributes
from assistantd.runs import state, store
from assistantd.runs.fence import Fence, Fenced
from assistantd.schemas import Usage
from assistantd.settings import Settings
from assistantd.tools.base import (
    CODE_INTERPRETER_FUNCTION,
    FILE_SEARCH_FUNCTION,
    ToolRunner,
    ToolUnavailable,
)
from assistantd.upstream import UpstreamClient, UpstreamError

log = logging.getLogger(__name__)


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
        self._upstream = upstream
        self._blobs = blobs
        self.shutting_down = False
        self.includes: dict[str, list[str]] = {}  # run id -> `include[]` of its create request
        self._transitions = RunTransitions(db, broker, self._metrics, self.includes)
        self._tools = ToolCalls(runners or {}, self._tracing, self._transitions)

    # --- entry point -----------------------------------------------------------------------------

    async def execute(self, run_id: str, fence: Fence | None = None) -> None:
        """Drive the run; with `fence` (several nodes), every write proves the lease first."""
        with background():  # an accepted run waits for the database, it is never refused
            await self._load_and_execute(run_id, fence)

    async def _load_and_execute(self, run_id: str, fence: Fence | None) -> None:
        try:
            started = await self._transitions.start(run_id, fence)
        except Fenced:
            return  # another attempt owns the run
        except asyncio.CancelledError:  # (a cancel, or shutdown) as if it came a moment later
            await asyncio.shield(self._stopped_while_starting(run_id, fence))
            raise
        except Exception:  # e.g. the database a moment away: read it, the loop goes on
            log.warning("run %s: could not start it in one transaction", run_id, exc_info=True)
            async with self._db.read() as conn:
                loaded = await store.get_by_id(conn, run_id)
            started = None if loaded is None else Started(*loaded)
        if started is None or state.is_terminal(started.run.status):
            return
        project, run = started.project, started.run
        writer = WriteBehind(self._db, project, fence=fence)
        ctx = RunContext(project, run, writer, fence=fence, thread=started.thread)
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

    async def _stopped_while_starting(self, run_id: str, fence: Fence | None) -> None:
        if fence is not None and fence.stopped:
            return
        async with self._db.read() as conn:
            loaded = await store.get_by_id(conn, run_id)
        if loaded is None or state.is_terminal(loaded[1].status):
            return
        project, run = loaded
        ctx = RunContext(project, run, WriteBehind(self._db, project, fence=fence), fence=fence)
        with contextlib.suppress(Fenced):
            await self._transitions.stopped(ctx)

    async def _execute(self, ctx: RunContext) -> None:
        run_id = ctx.run.id
        try:
            await self._drive(ctx)
        except asyncio.CancelledError:
            if ctx.fence is None or not ctx.fence.stopped:
                with contextlib.suppress(Fenced):
                    await asyncio.shield(self._transitions.stopped(ctx))
            raise
        except (RunEnded, Fenced):
            pass  # Fenced: another attempt owns the run now; this one writes nothing more
        except UpstreamError as error:
            await self._transitions.fail_unless_fenced(ctx, error.code, error.message)
        except (UnsupportedTool, ToolUnavailable) as error:
            await self._transitions.fail_unless_fenced(ctx, "server_error", str(error))
        except Exception:
            log.exception("run %s failed", run_id)
            await self._transitions.fail_unless_fenced(
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
            await self._transitions.advance(ctx, "in_progress")
        await wait_for_thread_files(self._db, ctx.project, ctx.run)
        while await self._model_call(ctx):
            pass

    # --- one model call ---------------------------------------------------------------------------

    async def _model_call(self, ctx: RunContext) -> bool:
        """One upstream call and what follows; True when the loop should call the model again."""
        run = ctx.run
        used = run.usage or Usage(prompt_tokens=0, completion_tokens=0, total_tokens=0)
        completion_left = budget.left(run.max_completion_tokens, used.completion_tokens)
        if completion_left is not None and completion_left <= 0:
            await self._transitions.incomplete(ctx, "max_completion_tokens")
        messages, prompt_tokens = await self._context(
            ctx, budget.left(run.max_prompt_tokens, used.prompt_tokens)
        )
        body = chat_request(
            run,
            messages,
            max_completion_tokens=completion_left,
            server_tools=SERVER_TOOL_DEFINITIONS,
        )
        ctx.turn = ModelTurn(
            run,
            self._transitions.publisher(run),
            ctx.writer.save,
            code_tool_name=CODE_INTERPRETER_FUNCTION,
            file_search_tool_name=FILE_SEARCH_FUNCTION,
            finalize=self._tools.finalizer(run),
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
            usage = budget.add(used, result, prompt_tokens)
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
            return await self._tools.run(ctx, result)
        if result.finish_reason == "length" and run.max_completion_tokens is not None:
            await self._transitions.incomplete(ctx, "max_completion_tokens")
        await self._transitions.advance(ctx, "completed")
        return False

    async def _context(
        self, ctx: RunContext, prompt_left: int | None
    ) -> tuple[list[dict[str, Any]], int]:
        thread, ctx.thread = ctx.thread, None  # as read at the start: good while it wrote nothing
        if ctx.writer.pending:
            thread = None
        await ctx.writer.flush()
        built = await load_context(
            self._db,
            self._blobs,
            ctx.project,
            ctx.run,
            prompt_left,
            self._settings.context_windows,
            thread,
        )
        if not built.fits:
            if ctx.run.max_prompt_tokens is not None:
                await self._transitions.incomplete(ctx, "max_prompt_tokens")
            await self._transitions.fail(
                ctx, "invalid_prompt", "The thread does not fit the model's context window."
            )
            raise RunEnded
        return built.messages, built.prompt_tokens

    def observe_status(self, status: str) -> None:
        """Count a run entering `status` (the scheduler reports the runs it closes)."""
        self._transitions.observe_status(status)
