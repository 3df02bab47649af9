"""Reading run steps (they are written by the executor only)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.errors import NotFoundError
from assistantd.pagination import PageParams
from assistantd.run_steps import store
from assistantd.run_steps.include import SEARCH_CONTENT
from assistantd.run_steps.schemas import FileSearchToolCall, RunStep, ToolCallsStepDetails
from assistantd.schemas import Page
from assistantd.threads import service as threads


def shown(step: RunStep, include: list[str] | None) -> RunStep:
    """The step as the API shows it: file-search result content only when `include[]` asks."""
    if (include and SEARCH_CONTENT in include) or not isinstance(
        step.step_details, ToolCallsStepDetails
    ):
        return step
    calls = []
    for call in step.step_details.tool_calls:
        if isinstance(call, FileSearchToolCall) and call.file_search.results:
            results = [r.model_copy(update={"content": None}) for r in call.file_search.results]
            search = call.file_search.model_copy(update={"results": results})
            call = call.model_copy(update={"file_search": search})
        calls.append(call)
    return step.model_copy(update={"step_details": ToolCallsStepDetails(tool_calls=calls)})


async def _check_run(conn: AsyncConnection, project: str, thread_id: str, run_id: str) -> None:
    """404 for a missing run, or for its missing thread first (as `runs.service.get`)."""
    if not await store.run_exists(conn, project, thread_id, run_id):
        await threads.get(conn, project, thread_id)
        raise NotFoundError.for_id("run", run_id)


async def get(
    conn: AsyncConnection,
    project: str,
    thread_id: str,
    run_id: str,
    step_id: str,
    include: list[str] | None = None,
) -> RunStep:
    step = await store.get(conn, project, thread_id, run_id, step_id)
    if step is None:
        await _check_run(conn, project, thread_id, run_id)
        raise NotFoundError.for_id("run step", step_id)
    return shown(step, include)


async def page(
    conn: AsyncConnection,
    project: str,
    thread_id: str,
    run_id: str,
    params: PageParams,
    include: list[str] | None = None,
) -> Page[RunStep]:
    await _check_run(conn, project, thread_id, run_id)
    found = await store.page(conn, project, run_id, params)
    found.data = [shown(step, include) for step in found.data]
    return found
