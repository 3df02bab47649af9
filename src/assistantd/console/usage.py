"""Tokens per day and per assistant for a project, from its runs' `usage`."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.assistants import store as assistants_store
from assistantd.runs import store as runs_store

MAX_RUNS = 50_000  # newest runs looked at; older ones fall outside any chart anyway
DAY = 86_400


async def usage(conn: AsyncConnection, project: str, days: int) -> dict[str, Any]:
    today = int(time.time()) // DAY
    first = today - days + 1
    per_day: dict[int, dict[str, int]] = {
        d: {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "runs": 0}
        for d in range(first, today + 1)
    }
    per_assistant: dict[str, dict[str, int]] = defaultdict(lambda: {"total_tokens": 0, "runs": 0})
    for run in await runs_store.bodies_of_project(conn, project, MAX_RUNS):
        day = run.created_at // DAY
        if day < first:
            continue
        usage = run.usage
        totals = per_day.setdefault(day, dict.fromkeys(per_day[today], 0))
        totals["runs"] += 1
        per_assistant[run.assistant_id]["runs"] += 1
        if usage is None:
            continue
        totals["prompt_tokens"] += usage.prompt_tokens
        totals["completion_tokens"] += usage.completion_tokens
        totals["total_tokens"] += usage.total_tokens
        per_assistant[run.assistant_id]["total_tokens"] += usage.total_tokens
    assistants = []
    for assistant_id, totals in sorted(
        per_assistant.items(), key=lambda kv: -kv[1]["total_tokens"]
    ):
        found = await assistants_store.get(conn, project, assistant_id)
        name = (found.name if found else None) or None
        assistants.append(
            {"assistant_id": assistant_id, "name": name, "deleted": found is None, **totals}
        )
    return {
        "object": "usage",
        "days": [
            {"date": time.strftime("%Y-%m-%d", time.gmtime(day * DAY)), **per_day[day]}
            for day in sorted(per_day)
        ],
        "assistants": assistants,
    }
