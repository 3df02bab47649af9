"""The file search tool: the model's queries run hybrid (keyword + vector) over the assistant's
and the thread's vector stores; the step records `ranking_options` and `results`; the passages
go back to the model with citation markers, which become `file_citation` annotations.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from assistantd.assistants import store as assistants_store
from assistantd.db.engine import Database
from assistantd.events import deltas
from assistantd.file_search.engine import FileSearchEngine
from assistantd.messages.schemas import (
    FileCitation,
    FileCitationAnnotation,
    MessageContent,
    TextContentBlock,
)
from assistantd.observability import OFF, Telemetry
from assistantd.run_steps import store as steps_store
from assistantd.run_steps.schemas import (
    FileSearch,
    FileSearchResult,
    FileSearchResultContent,
    FileSearchToolCall,
    ToolCall,
    ToolCallsStepDetails,
)
from assistantd.runs import fence as fencing
from assistantd.runs.schemas import Run
from assistantd.schemas import FileSearchTool, RankingOptions
from assistantd.threads import store as threads_store
from assistantd.tools.base import ToolContext, ToolUnavailable
from assistantd.vector_stores import service as vector_stores
from assistantd.vector_stores import store as vs_store

DEFAULT_MAX_RESULTS = 20
OWN_STORE_WAIT_S = 60.0
TOKEN_BUDGET = 16_000
QUOTE_CHARS = 300
# 【0:2†notes.txt】 (OpenAI's marker), also 【2†notes.txt】 for the latest search
MARKER = re.compile(r"【(?:(?P<ordinal>\d+):)?(?P<index>\d+)†[^】]*】")


def parse_queries(arguments: str) -> list[str]:
    try:
        parsed: Any = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return [arguments] if arguments.strip() else []
    if isinstance(parsed, dict):
        found = parsed.get("queries") or parsed.get("query") or []
        found = [found] if isinstance(found, str) else found
        return [str(query) for query in found if str(query).strip()][:5]
    return []


def _options(run: Run) -> tuple[int, RankingOptions]:
    for tool in run.tools:
        if isinstance(tool, FileSearchTool) and tool.file_search is not None:
            options = tool.file_search
            ranking = options.ranking_options or RankingOptions(score_threshold=0.0)
            return options.max_num_results or DEFAULT_MAX_RESULTS, ranking
    return DEFAULT_MAX_RESULTS, RankingOptions(score_threshold=0.0)


class FileSearchRunner:
    tool_type = "file_search"

    def __init__(
        self, db: Database, search: FileSearchEngine, *, telemetry: Telemetry = OFF
    ) -> None:
        self._db = db
        self._search = search
        self._telemetry = telemetry

    async def run(self, call: ToolCall, context: ToolContext) -> ToolCall:
        assert isinstance(call, FileSearchToolCall)
        run = context.run
        max_results, ranking = _options(run)
        store_ids = await self._store_ids(context)
        if not store_ids:
            return FileSearchToolCall(
                id=call.id, file_search=FileSearch(ranking_options=ranking, results=[])
            )
        started = time.perf_counter()
        async with self._db.read() as conn:
            found = await self._search.query(
                conn,
                context.project,
                store_ids,
                parse_queries(context.arguments),
                k=max_results,
                score_threshold=ranking.score_threshold,
                token_budget=TOKEN_BUDGET,
                model=run.model,
                trace=lambda: self._telemetry.tracing.span(
                    "search", {"assistantd.vector_store_ids": store_ids}
                ),
            )
        if self._telemetry.metrics is not None:
            self._telemetry.metrics.search_latency.labels("run").observe(
                time.perf_counter() - started
            )
        results = [
            FileSearchResult(
                file_id=f.hit.file_id,
                file_name=f.filename,
                score=round(min(max(f.hit.score, 0.0), 1.0), 6),
                content=[FileSearchResultContent(text=f.hit.text)],
            )
            for f in found
        ]
        return FileSearchToolCall(
            id=call.id, file_search=FileSearch(ranking_options=ranking, results=results)
        )

    async def interrupt(self, context: ToolContext) -> None:
        return None  # a search is short; cancelling the task stops it

    async def _store_ids(self, context: ToolContext) -> list[str]:
        """The stores to search, each touched (its expiry pushed back) as the run's write: a
        stale execution of the run is refused here, before it searches."""
        project, run = context.project, context.run
        async with fencing.write(self._db, context.fence) as conn:
            assistant = await assistants_store.get(conn, project, run.assistant_id)
            thread = await threads_store.get(conn, project, run.thread_id)
            ids: list[str] = []
            for owner in (assistant, thread):
                resources = owner.tool_resources if owner is not None else None
                if resources is not None and resources.file_search is not None:
                    ids += resources.file_search.vector_store_ids
            usable, own = [], []
            for store_id in dict.fromkeys(ids):
                store = await vector_stores.get_store(conn, project, store_id)
                if store.status == "expired":
                    raise ToolUnavailable(f"Vector store {store_id} has expired.")
                await vector_stores.touch(conn, project, store)
                usable.append(store_id)
                if store.name in (f"{run.thread_id} files", f"{run.assistant_id} files"):
                    own.append(store_id)
        await self._ingested(own)
        return usable

    async def _ingested(self, store_ids: list[str]) -> None:
        """Wait (up to OWN_STORE_WAIT_S) for files still being ingested into the stores made
        for the thread's attachments or an assistant's v1 files: their owner never saw them
        being processed, so a search must not miss them."""
        deadline = time.monotonic() + OWN_STORE_WAIT_S
        for store_id in store_ids:
            while time.monotonic() < deadline:
                async with self._db.read() as conn:
                    counts, _ = await vs_store.file_counts(conn, store_id)
                if not counts.in_progress:
                    break
                await asyncio.sleep(0.1)

    # --- citations in the answer -----------------------------------------------------------------

    async def finalize(
        self, run: Run, message_id: str, blocks: list[MessageContent], publish: Any
    ) -> list[MessageContent]:
        """Turn the citation markers the model copied into `file_citation` annotations."""
        if not any(tool.type == "file_search" for tool in run.tools):
            return blocks  # nothing to cite; spare the query
        sources = await self._sources(run.id)
        if not sources:
            return blocks
        for index, block in enumerate(blocks):
            if not isinstance(block, TextContentBlock):
                continue
            found = _citations(block.text.value, sources)
            if found:
                start = len(block.text.annotations)
                block.text.annotations = [*block.text.annotations, *found]
                publish(deltas.annotations_delta(message_id, index, start, found))
        return blocks

    async def _sources(self, run_id: str) -> list[list[FileSearchResult]]:
        """The results of each file search of the run, in order (marker ordinal → results)."""
        async with self._db.read() as conn:
            steps = await steps_store.for_run(conn, run_id)
        searches = []
        for step in steps:
            if isinstance(step.step_details, ToolCallsStepDetails):
                for call in step.step_details.tool_calls:
                    if isinstance(call, FileSearchToolCall):
                        searches.append(call.file_search.results or [])
        return searches


def _citations(text: str, sources: list[list[FileSearchResult]]) -> list[FileCitationAnnotation]:
    found = []
    for match in MARKER.finditer(text):
        ordinal = int(match.group("ordinal")) if match.group("ordinal") else len(sources) - 1
        index = int(match.group("index"))
        if not (0 <= ordinal < len(sources) and 0 <= index < len(sources[ordinal])):
            continue
        result = sources[ordinal][index]
        quote = "".join(part.text or "" for part in result.content or [])[:QUOTE_CHARS]
        found.append(
            FileCitationAnnotation(
                text=match.group(0),
                file_citation=FileCitation(file_id=result.file_id, quote=quote),
                start_index=match.start(),
                end_index=match.end(),
            )
        )
    return found
