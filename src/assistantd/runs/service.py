"""Rules for runs: creation (with the thread lock), cancel, submit_tool_outputs, reads.

Services change the database and declare on the transaction's outbox what follows once it has
committed (assistantd.effects): the change's stream events published (to a stream opened for
the request first, if it streams), then the run handed to the scheduler, or its cancel signalled.
The executor does the rest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd import ids
from assistantd.assistants import service as assistants
from assistantd.assistants.schemas import Assistant
from assistantd.db import documents
from assistantd.db.documents import RawPage
from assistantd.effects import Stream, outbox
from assistantd.errors import InvalidRequestError, NotFoundError
from assistantd.events import models as ev
from assistantd.messages import service as messages
from assistantd.pagination import PageParams
from assistantd.run_steps import store as steps_store
from assistantd.run_steps.schemas import (
    FunctionToolCall,
    RunStep,
    ToolCall,
    ToolCallsStepDetails,
)
from assistantd.runs import endings, state, store
from assistantd.runs import events as run_events
from assistantd.runs.schemas import (
    RUN_EXPIRY_SECONDS,
    CreateRunRequest,
    CreateThreadAndRunRequest,
    ModifyRunRequest,
    Run,
    RunOptions,
    SubmitToolOutputsRequest,
    TruncationStrategy,
)
from assistantd.thread_lock.service import check_unlocked
from assistantd.threads import service as threads
from assistantd.threads.schemas import CreateThreadRequest, Thread


@dataclass
class RunChange:
    """A run after a request changed it, and the stream of its events if the request asked."""

    run: Run
    stream: Stream | None = None


def _announce(
    conn: AsyncConnection,
    run: Run,
    events: list[ev.StreamEvent],
    *,
    stream: bool | None = None,
    schedule: bool = True,
) -> RunChange:
    """Once committed: open the run's stream (if asked), publish `events`, schedule the run."""
    box = outbox(conn)
    opened = box.stream(run.id) if stream else None
    box.publish(run.id, events)
    if schedule:
        box.schedule(run.id)
    return RunChange(run, opened)


def _new_run(
    thread: Thread,
    assistant: Assistant,
    request: RunOptions,
    additional_instructions: str | None,
    expiry_s: int,
) -> Run:
    now = int(time.time())
    instructions = (
        request.instructions if request.instructions is not None else assistant.instructions
    ) or ""
    if additional_instructions:
        instructions = (
            f"{instructions}\n\n{additional_instructions}"
            if instructions
            else (additional_instructions)
        )
    return Run(
        id=ids.new_id(ids.RUN),
        created_at=now,
        thread_id=thread.id,
        assistant_id=assistant.id,
        expires_at=now + expiry_s,
        model=request.model or assistant.model,
        instructions=instructions,
        tools=request.tools if request.tools is not None else assistant.tools,
        metadata=request.metadata or {},
        # null means unset, as for every other nullable override: the assistant's value holds
        temperature=_first(request.temperature, assistant.temperature),
        top_p=_first(request.top_p, assistant.top_p),
        max_prompt_tokens=request.max_prompt_tokens,
        max_completion_tokens=request.max_completion_tokens,
        truncation_strategy=request.truncation_strategy or TruncationStrategy(),
        tool_choice=request.tool_choice or "auto",
        parallel_tool_calls=request.parallel_tool_calls,
        response_format=request.response_format or assistant.response_format or "auto",
        reasoning_effort=getattr(request, "reasoning_effort", None) or assistant.reasoning_effort,
    )


def _first(override: float | None, inherited: float | None) -> float | None:
    return inherited if override is None else override


async def _assistant(conn: AsyncConnection, project: str, assistant_id: str) -> Assistant:
    try:
        return await assistants.get(conn, project, assistant_id)
    except NotFoundError as error:
        error.param = "assistant_id"
        raise


async def create(
    conn: AsyncConnection,
    project: str,
    thread_id: str,
    request: CreateRunRequest,
    *,
    expiry_s: int = RUN_EXPIRY_SECONDS,
    include: list[str] | None = None,
) -> RunChange:
    """A run on the thread; `include[]` is what its streamed step events show."""
    thread = await threads.get(conn, project, thread_id)
    assistant = await _assistant(conn, project, request.assistant_id)
    await check_unlocked(conn, thread.id, for_message=False)
    for index, message in enumerate(request.additional_messages or []):
        await messages.add(conn, project, thread, message, param=f"additional_messages[{index}]")
    run = _new_run(thread, assistant, request, request.additional_instructions, expiry_s)
    await store.insert(conn, project, run)
    if include:
        outbox(conn).show(run.id, include)
    events: list[ev.StreamEvent] = [
        run_events.ThreadRunCreated(data=run),
        run_events.ThreadRunQueued(data=run),
    ]
    return _announce(conn, run, events, stream=request.stream)


async def create_thread_and_run(
    conn: AsyncConnection,
    project: str,
    request: CreateThreadAndRunRequest,
    *,
    expiry_s: int = RUN_EXPIRY_SECONDS,
) -> RunChange:
    assistant = await _assistant(conn, project, request.assistant_id)
    given = request.thread
    thread_request = CreateThreadRequest(
        messages=given.messages if given else None,
        tool_resources=request.tool_resources or (given.tool_resources if given else None),
        metadata=given.metadata if given else None,
    )
    thread = await threads.create(conn, project, thread_request)
    run = _new_run(thread, assistant, request, None, expiry_s)
    await store.insert(conn, project, run)
    events = [
        ev.ThreadCreated(data=thread),
        run_events.ThreadRunCreated(data=run),
        run_events.ThreadRunQueued(data=run),
    ]
    return _announce(conn, run, events, stream=request.stream)


async def get(conn: AsyncConnection, project: str, thread_id: str, run_id: str) -> Run:
    run = await store.get(conn, project, thread_id, run_id)
    if run is None:
        await threads.get(conn, project, thread_id)
        raise NotFoundError.for_id("run", run_id)
    return run


async def modify(
    conn: AsyncConnection, project: str, thread_id: str, run_id: str, request: ModifyRunRequest
) -> Run:
    run = await get(conn, project, thread_id, run_id)
    if "metadata" not in request.model_fields_set:
        return run
    # Only the metadata is written: the executor may change the rest meanwhile.
    patched = await store.patch(conn, run.id, {"metadata": request.metadata or {}})
    if patched is None:
        raise NotFoundError.for_id("run", run_id)
    return patched


async def page(conn: AsyncConnection, project: str, thread_id: str, params: PageParams) -> RawPage:
    await threads.get(conn, project, thread_id)
    return await store.page(conn, project, thread_id, params)


async def cancel(conn: AsyncConnection, project: str, thread_id: str, run_id: str) -> RunChange:
    """Queued and in-progress runs go to `cancelling` (the executor finishes the job); a run
    waiting for tool outputs has nothing running and is cancelled at once."""
    run = await get(conn, project, thread_id, run_id)
    if run.status not in state.CANCELLABLE:
        raise InvalidRequestError(f"Cannot cancel run with status '{run.status}'.", param=None)
    now = int(time.time())
    waiting = run.status == "requires_action"
    read = run
    run, name = state.advance(run, "cancelling", now)
    events = [run_events.run_event(name, run)]
    if waiting:
        try:
            closed = await endings.close_open(conn, run.id, "cancelled", now, strict=True)
        except endings.ChangedMeanwhile:
            raise InvalidRequestError("The run's step changed meanwhile.", param=None) from None
        events += [ev.step_event(step_name, step) for step, step_name in closed]
        run, name = state.advance(run, "cancelled", now)
        events.append(run_events.run_event(name, run))
    await _patch_run(conn, read, run, "cancel")
    change = _announce(conn, run, events, schedule=False)
    if not waiting:  # the executor finishes the cancel, wherever it runs the run
        outbox(conn).cancel_run(run.id)
    return change


async def _patch_run(conn: AsyncConnection, read: Run, changed: Run, action: str) -> None:
    """Write what the request changed, if the run's status is still what the request saw (the
    executor may have moved it meanwhile); otherwise the request fails and rolls back."""
    written = await store.patch(
        conn, read.id, documents.changed(read, changed), expected_status=read.status
    )
    if written is None:
        raise InvalidRequestError(f"Cannot {action} the run: its status changed.", param=None)


async def _patch_step(conn: AsyncConnection, read: RunStep, changed: RunStep) -> None:
    written = await steps_store.patch(
        conn, read.id, documents.changed(read, changed), expect={"status": read.status}
    )
    if written is None:
        raise InvalidRequestError("The run's step changed meanwhile.", param=None)


async def submit_tool_outputs(
    conn: AsyncConnection,
    project: str,
    thread_id: str,
    run_id: str,
    request: SubmitToolOutputsRequest,
) -> RunChange:
    run = await get(conn, project, thread_id, run_id)
    if run.status != "requires_action" or run.required_action is None:
        raise InvalidRequestError(
            f'Runs in status "{run.status}" do not accept tool outputs.', param=None
        )
    expected = [call.id for call in run.required_action.submit_tool_outputs.tool_calls]
    outputs = _outputs_by_call(request, expected)
    step = read_step = await _waiting_step(conn, run)
    now = int(time.time())
    calls = []
    for call in _tool_calls(step):
        if isinstance(call, FunctionToolCall) and call.id in outputs:
            call = call.model_copy(
                update={"function": call.function.model_copy(update={"output": outputs[call.id]})}
            )
        calls.append(call)
    step = step.model_copy(update={"step_details": ToolCallsStepDetails(tool_calls=calls)})
    step, step_name = state.advance_step(step, "completed", now)
    await _patch_step(conn, read_step, step)
    read = run
    run, name = state.advance(run, "queued", now)
    await _patch_run(conn, read, run, "submit tool outputs to")
    events = [ev.step_event(step_name, step), run_events.run_event(name, run)]
    return _announce(conn, run, events, stream=request.stream)


def _outputs_by_call(request: SubmitToolOutputsRequest, expected: list[str]) -> dict[str, str]:
    outputs: dict[str, str] = {}
    for index, item in enumerate(request.tool_outputs):
        param = f"tool_outputs[{index}].tool_call_id"
        if item.tool_call_id is None:
            raise InvalidRequestError(
                "Missing required parameter: 'tool_call_id'.",
                param=param,
                code="missing_required_parameter",
            )
        if item.tool_call_id not in expected:
            raise InvalidRequestError(
                f"No tool call found with id '{item.tool_call_id}' in the run's required action.",
                param=param,
            )
        if item.tool_call_id in outputs:
            raise InvalidRequestError(
                f"Duplicate output for tool call '{item.tool_call_id}'.", param=param
            )
        outputs[item.tool_call_id] = item.output or ""
    missing = [call_id for call_id in expected if call_id not in outputs]
    if missing:
        raise InvalidRequestError(
            f"Expected tool outputs for call_ids {expected}, got {list(outputs)}; missing "
            f"{missing}.",
            param="tool_outputs",
        )
    return outputs


async def _waiting_step(conn: AsyncConnection, run: Run) -> RunStep:
    for step in reversed(await steps_store.for_run(conn, run.id)):
        if step.status == "in_progress" and isinstance(step.step_details, ToolCallsStepDetails):
            return step
    raise InvalidRequestError("The run has no tool call waiting for outputs.")


def _tool_calls(step: RunStep) -> list[ToolCall]:
    details = step.step_details
    return details.tool_calls if isinstance(details, ToolCallsStepDetails) else []
