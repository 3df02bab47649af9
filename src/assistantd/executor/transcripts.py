"""Long threads' transcripts as last rendered and counted, for the next model call to extend.

Every model call of a run reads the whole thread again; a long one (500 messages) then cost
~2 ms of CPU to parse, render and count even with parsed messages and token counts remembered,
in two hops to a worker thread and back (each up to the interpreter's 5 ms switch interval
when the loop is busy, more on a loaded machine). What a call read is kept here by thread: the
next call whose rows start with those same rows (equal, compared in C) and whose new rows all
sort after them renders and counts only the new rows, on the loop when they are few.

Anything else (a row changed or gone, a row sorting among the known ones, another encoding)
builds the transcript from the start, as before. Threads with images are not kept (their data
URLs are MBs, read again on each call). Only used from the event loop: no lock.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

ChatMessage = dict[str, Any]
Rows = list[tuple[str, str]]


@dataclass(frozen=True)
class Transcript:
    """A thread's messages and steps as read (sort key, body), and what they render to."""

    encoding: str  # of the token counts
    messages: Rows = field(default_factory=list)
    steps: Rows = field(default_factory=list)
    last_key: str = ""  # the largest order key of the rows: new rows must sort after it
    rendered: list[ChatMessage] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)  # count_message of each rendered message
    searches: dict[str, int] = field(default_factory=dict)  # run id -> file searches seen

    @property
    def chars(self) -> int:
        return sum(len(body) for _, body in self.messages) + sum(
            len(body) for _, body in self.steps
        )

    def extended_by(self, messages: Rows, steps: Rows) -> tuple[Rows, Rows] | None:
        """The rows of `messages` and `steps` after this transcript's, if they start with its
        rows exactly; else None."""
        known_messages, known_steps = len(self.messages), len(self.steps)
        if len(messages) < known_messages or len(steps) < known_steps:
            return None
        if messages[:known_messages] != self.messages or steps[:known_steps] != self.steps:
            return None
        return messages[known_messages:], steps[known_steps:]


class Transcripts:
    """Transcripts by thread id, least recently used dropped past `limit` characters of rows."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._chars = 0
        self._items: OrderedDict[str, tuple[Transcript, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, thread_id: str) -> Transcript | None:
        found = self._items.get(thread_id)
        if found is None:
            return None
        self._items.move_to_end(thread_id)
        return found[0]

    def put(self, thread_id: str, transcript: Transcript, chars: int) -> None:
        self.drop(thread_id)
        if chars > self._limit:
            return
        self._items[thread_id] = (transcript, chars)
        self._chars += chars
        while self._chars > self._limit:
            _, (_, dropped) = self._items.popitem(last=False)
            self._chars -= dropped

    def drop(self, thread_id: str) -> None:
        found = self._items.pop(thread_id, None)
        if found is not None:
            self._chars -= found[1]
