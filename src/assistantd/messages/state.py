"""THE message state machine: allowed transitions and the timestamp each sets.

Pure: no I/O, no clock. A message a user adds is born `completed`; an assistant's message is
born `in_progress` and ends once, when its turn ends (or its run does):

    in_progress ──> completed | incomplete (with incomplete_details)
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from assistantd.messages.schemas import IncompleteDetails, Message, MessageStatus

MessageEnd = Literal["completed", "incomplete"]
IncompleteReason = Literal["max_tokens", "run_cancelled", "run_expired", "run_failed"]

MESSAGE_TRANSITIONS: dict[MessageStatus, frozenset[MessageStatus]] = {
    "in_progress": frozenset(get_args(MessageEnd)),
    "completed": frozenset(),
    "incomplete": frozenset(),
}

RUN_END_REASON: dict[str, IncompleteReason] = {
    "cancelled": "run_cancelled",
    "expired": "run_expired",
    "failed": "run_failed",
}
"""Why a message still open when its run ends is incomplete (by the run's end status)."""

_STAMPS: dict[MessageEnd, str] = {"completed": "completed_at", "incomplete": "incomplete_at"}


class IllegalMessageTransition(ValueError):
    """A message status change the state machine does not allow (a bug in the caller)."""


def advance_message(
    message: Message,
    to: MessageEnd,
    now: int,
    *,
    reason: IncompleteReason | None = None,
    **changes: Any,
) -> Message:
    """`message` moved to `to` at unix time `now` (`incomplete` needs a `reason`); `changes`
    sets other fields (e.g. the final content) in the same step."""
    if to not in MESSAGE_TRANSITIONS[message.status]:
        raise IllegalMessageTransition(
            f"message {message.id}: {message.status} -> {to} is not allowed"
        )
    update: dict[str, Any] = {**changes, "status": to, _STAMPS[to]: now}
    if to == "incomplete":
        if reason is None:
            raise IllegalMessageTransition(f"message {message.id}: incomplete needs a reason")
        update["incomplete_details"] = IncompleteDetails(reason=reason)
    return message.model_copy(update=update)


def end_reason(run_end: str) -> IncompleteReason:
    """The `incomplete_details.reason` of a message closed because its run ended so."""
    return RUN_END_REASON.get(run_end, "run_failed")
