"""What one execution of a run carries between its phases (the run as it is now, its writer,
the model turn or server tool call under way, its lease), and the signal that it ended."""

from __future__ import annotations

from dataclasses import dataclass

from assistantd.executor.thread_context import ThreadRows
from assistantd.executor.turn import ModelTurn
from assistantd.executor.writeback import WriteBehind
from assistantd.runs.fence import Fence
from assistantd.runs.schemas import Run
from assistantd.tools.base import ToolContext, ToolRunner


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
    thread: ThreadRows | None = None  # read when the run started, for its first context only

    def __post_init__(self) -> None:
        if self.stored is None:
            self.stored = self.run
