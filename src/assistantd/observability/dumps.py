"""What a stuck server is doing: every thread's stack and every asyncio task's, on demand.

`kill -USR1 <pid>` on a served process (the CLI installs `install_signal_dump`) writes both to
stderr: the threads first, from faulthandler's C handler (so even a loop blocked in a call
shows where), then the tasks of the event loop from Python once the loop's thread runs
Python code again. The test harness does the same for the servers it runs, when a test hangs.
"""

from __future__ import annotations

import asyncio
import faulthandler
import io
import signal
import sys
from types import FrameType
from typing import Any, TextIO


def format_tasks(loop: asyncio.AbstractEventLoop) -> str:
    """Each task of `loop` with the whole chain of what it awaits, down to the future it waits
    for (`Task.print_stack` shows only the outermost coroutine). Callable from another thread:
    a best-effort read."""
    out = io.StringIO()
    try:
        tasks = list(asyncio.all_tasks(loop))
    except RuntimeError as error:  # the set changed under us too often
        return f"(tasks unreadable: {error})\n"
    out.write(f"{len(tasks)} asyncio tasks\n")
    for task in tasks:
        try:
            out.write(f"task {task.get_name()!r}:\n")
            awaited: Any = task.get_coro()
            for _ in range(MAX_DEPTH):
                frame = _frame(awaited)
                if frame is None:
                    break
                code = frame.f_code
                where = f'"{code.co_filename}", line {frame.f_lineno}, in {code.co_name}'
                out.write(f"  File {where}\n")
                awaited = _awaits(awaited)
            if awaited is not None:
                out.write(f"  waiting for {awaited!r:.300}\n")
        except Exception as error:  # a frame finished while we read it
            out.write(f"  ({error})\n")
    return out.getvalue()


MAX_DEPTH = 64


def _frame(awaitable: Any) -> FrameType | None:
    """The frame of a coroutine, generator or async generator (None for a future)."""
    for name in ("cr_frame", "gi_frame", "ag_frame"):
        frame = getattr(awaitable, name, None)
        if isinstance(frame, FrameType):
            return frame
    return None


def _awaits(awaitable: Any) -> Any:
    for name in ("cr_await", "gi_yieldfrom", "ag_await"):
        inner = getattr(awaitable, name, None)
        if inner is not None:
            return inner
    return None


def install_signal_dump(
    loop: asyncio.AbstractEventLoop, signum: int = signal.SIGUSR1, file: TextIO | None = None
) -> None:
    """On `signum`: threads' stacks (C handler), then `loop`'s tasks (Python handler)."""
    target = file or sys.stderr

    def dump_tasks(_signum: int, _frame: FrameType | None) -> None:
        target.write(format_tasks(loop))
        target.flush()

    signal.signal(signum, dump_tasks)
    faulthandler.register(signum, file=target, all_threads=True, chain=True)
