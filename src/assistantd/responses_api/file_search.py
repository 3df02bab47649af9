"""The file_search tool of responses: the model's queries run hybrid over the tool's vector
stores (the search the runs use), the call becomes a `file_search_call` item with its events,
and the `【n:m†file】` markers the model copies become `file_citation` annotations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd import ids
from assistantd.db.engine import Database
from assistantd.file_search.engine import FileSearchEngine
from assistantd.items.schemas import FileSearchCallItem, FileSearchResult, Item
from assistantd.responses_api.output import OutputBuilder, ServerCall
from assistantd.responses_api.schemas import FileSearchToolParam
from assistantd.tools.file_search import (
    DEFAULT_MAX_RESULTS,
    MARKER,
    TOKEN_BUDGET,
    parse_queries,
)
from assistantd.vector_stores import service as vector_stores


async def check_stores(conn: AsyncConnection, project: str, tool: FileSearchToolParam) -> None:
    """Every vector store the tool names exists in the project (a 404 otherwise)."""
    for store_id in tool.vector_store_ids:
        await vector_stores.get_store(conn, project, store_id)


class FileSearch:
    def __init__(self, db: Database, search: FileSearchEngine) -> None:
        self._db = db
        self._engine = search

    async def run(
        self,
        builder: OutputBuilder,
        call: ServerCall,
        tool: FileSearchToolParam,
        project: str,
        model: str,
    ) -> None:
        queries = parse_queries(call.arguments)
        item = FileSearchCallItem(
            id=ids.new_id(ids.FILE_SEARCH_CALL), status="in_progress", queries=queries
        )
        index = builder.add_item(item)
        builder.progress(index, "response.file_search_call.in_progress")
        builder.progress(index, "response.file_search_call.searching")
        try:
            results = await self._search(tool, queries, project, model)
        except Exception:
            builder.done_item(index, item.model_copy(update={"status": "failed"}))
            raise
        builder.progress(index, "response.file_search_call.completed")
        builder.done_item(
            index, item.model_copy(update={"status": "completed", "results": results})
        )

    async def _search(
        self, tool: FileSearchToolParam, queries: list[str], project: str, model: str
    ) -> list[FileSearchResult]:
        limit = tool.max_num_results or DEFAULT_MAX_RESULTS
        ranking = tool.ranking_options
        threshold = ranking.score_threshold if ranking and ranking.score_threshold else 0.0
        filters = tool.filters.model_dump() if tool.filters is not None else None
        async with self._db.write() as conn:  # touching a store keeps it from expiring
            for store_id in tool.vector_store_ids:
                store = await vector_stores.get_store(conn, project, store_id)
                await vector_stores.touch(conn, project, store)
        async with self._db.read() as conn:
            found = await self._engine.query(
                conn,
                project,
                tool.vector_store_ids,
                queries,
                k=limit,
                filters=filters,
                score_threshold=threshold,
                token_budget=TOKEN_BUDGET,
                model=model,
            )
        return [
            FileSearchResult(
                file_id=f.hit.file_id,
                filename=f.filename,
                score=round(min(max(f.hit.score, 0.0), 1.0), 6),
                text=f.hit.text,
            )
            for f in found
        ]


def citations(text: str, items: Sequence[Item]) -> list[dict[str, Any]]:
    """`file_citation` annotations for the markers in `text`; `items` is the transcript the
    model saw (marker `n:m` = result m of its n-th file search; `m` alone = the latest)."""
    sources = [item.results or [] for item in items if isinstance(item, FileSearchCallItem)]
    found = []
    for match in MARKER.finditer(text):
        ordinal = int(match.group("ordinal")) if match.group("ordinal") else len(sources) - 1
        position = int(match.group("index"))
        if not (0 <= ordinal < len(sources) and 0 <= position < len(sources[ordinal])):
            continue
        result = sources[ordinal][position]
        found.append(
            {
                "type": "file_citation",
                "file_id": result.file_id,
                "filename": result.filename,
                "index": match.start(),
            }
        )
    return found
