"""The run events of a stream (`thread.run.*`, openai-python's `ThreadRun*`), one model each,
beside the Run they carry. The other stream events, their base `StreamEvent` and the SSE
encoding are in `events/`, beneath the resources: the runs package publishes these, so they are
here and `events/` imports nothing of runs.
"""

from __future__ import annotations

from typing import Literal

from assistantd.events.models import StreamEvent
from assistantd.runs.schemas import Run


class _RunEvent(StreamEvent):
    data: Run


class ThreadRunCreated(_RunEvent):
    event: Literal["thread.run.created"] = "thread.run.created"


class ThreadRunQueued(_RunEvent):
    event: Literal["thread.run.queued"] = "thread.run.queued"


class ThreadRunInProgress(_RunEvent):
    event: Literal["thread.run.in_progress"] = "thread.run.in_progress"


class ThreadRunRequiresAction(_RunEvent):
    event: Literal["thread.run.requires_action"] = "thread.run.requires_action"
    ends_stream = True


class ThreadRunCompleted(_RunEvent):
    event: Literal["thread.run.completed"] = "thread.run.completed"
    ends_stream = True


class ThreadRunIncomplete(_RunEvent):
    event: Literal["thread.run.incomplete"] = "thread.run.incomplete"
    ends_stream = True


class ThreadRunFailed(_RunEvent):
    event: Literal["thread.run.failed"] = "thread.run.failed"
    ends_stream = True


class ThreadRunCancelling(_RunEvent):
    event: Literal["thread.run.cancelling"] = "thread.run.cancelling"


class ThreadRunCancelled(_RunEvent):
    event: Literal["thread.run.cancelled"] = "thread.run.cancelled"
    ends_stream = True


class ThreadRunExpired(_RunEvent):
    event: Literal["thread.run.expired"] = "thread.run.expired"
    ends_stream = True


RUN_EVENTS: dict[str, type[_RunEvent]] = {
    cls.model_fields["event"].default: cls
    for cls in (
        ThreadRunCreated,
        ThreadRunQueued,
        ThreadRunInProgress,
        ThreadRunRequiresAction,
        ThreadRunCompleted,
        ThreadRunIncomplete,
        ThreadRunFailed,
        ThreadRunCancelling,
        ThreadRunCancelled,
        ThreadRunExpired,
    )
}


def run_event(name: str, run: Run) -> StreamEvent:
    """The typed event for a name that `runs.state.advance` returned, e.g. `thread.run.failed`."""
    return RUN_EVENTS[name](event=name, data=run)
