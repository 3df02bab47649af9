"""The seam between the run loop and server-side tools (code interpreter, file search).

The run loop offers each server tool to the model as a chat-completions function (its
`definition`). When the model calls it, the loop hands the call to the tool's runner, which
streams its progress as step deltas through `ToolContext.publish` and returns the finished call
(with outputs) for the run step. Function tools are not runners: they go to the client
through `requires_action`.

Whatever a runner writes (a File, an object in the blob store, a row it updates) is written on
behalf of the run's execution, so it goes through `runs.fence.write(db, context.fence)`: on
several nodes a stale execution (its run was taken over) gets `Fenced` and leaves nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.events.models import StreamEvent
from assistantd.run_steps.schemas import RunStep, ToolCall
from assistantd.runs.fence import Fence
from assistantd.runs.schemas import Run

CODE_INTERPRETER_FUNCTION = "code_interpreter"

CODE_INTERPRETER_DEFINITION: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": CODE_INTERPRETER_FUNCTION,
        "description": (
            "Run Python code in a stateful sandbox, like a Jupyter notebook: variables and "
            "imports persist between calls, the value of the last expression is shown, and "
            "printed output is returned. Files are in /mnt/data (the working directory); files "
            "you save there can be linked as sandbox:/mnt/data/<name>. There is no internet."
        ),
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "The Python code to run."}},
            "required": ["code"],
        },
    },
}


FILE_SEARCH_FUNCTION = "file_search"

FILE_SEARCH_DEFINITION: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": FILE_SEARCH_FUNCTION,
        "description": (
            "Search the files the user provided (the assistant's and the thread's vector "
            "stores) and get the most relevant passages. Use it to answer questions about "
            "their content. Cite a passage you use with its marker, exactly as given, e.g. "
            "【0:2†notes.txt】."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "queries": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "One to five search queries, each a complete question.",
                }
            },
            "required": ["queries"],
        },
    },
}


Transaction = Callable[[], AbstractAsyncContextManager[AsyncConnection]]
"""Opens a write transaction (e.g. `functools.partial(runs.fence.write, db, fence)`)."""


class ToolUnavailable(Exception):
    """The tool cannot run on this server now (e.g. no Docker engine for the sandbox)."""


@dataclass
class ToolContext:
    project: str
    run: Run
    step: RunStep
    index: int  # the call's position in the step's tool_calls (for deltas)
    publish: Callable[[StreamEvent], None]
    arguments: str = ""  # the model's raw JSON arguments
    fence: Fence | None = None  # several nodes: the lease every write of the call must hold


class ToolRunner(Protocol):
    tool_type: str

    async def run(self, call: ToolCall, context: ToolContext) -> ToolCall:
        """Carry out `call`, streaming deltas; return it with its outputs filled in."""
        ...

    async def interrupt(self, context: ToolContext) -> None:
        """Stop the call under way (the run was cancelled)."""
        ...
