"""Orders parallel tool-call deltas so the SDK sees one call at a time.

The SDK's stream handler tracks a single "current tool call": a delta for another index fires
`on_tool_call_done` for the current one and `on_tool_call_created` for the other, so
interleaved deltas (0, 1, 0, 1) would announce each call several times. The sequencer streams
one call live and holds back the others until the live call is complete, i.e. its arguments
form a whole JSON value (a complete JSON object cannot grow, so no more deltas will come for
it), or the turn ends. OpenAI sends parallel calls one after another, so in practice every call
streams live; a server that interleaves gets its later calls in a burst, never out of order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import orjson

from assistantd.events.models import StreamEvent


class CallSequencer:
    def __init__(self, publish: Callable[[StreamEvent], None]) -> None:
        self._publish = publish
        self._live: int | None = None
        self._waiting: list[int] = []  # announced calls held back, in announcement order
        self._held: dict[int, list[StreamEvent]] = {}
        self._arguments: dict[int, list[str]] = {}

    def header(self, index: int, event: StreamEvent) -> None:
        self._arguments[index] = []
        if self._live is None:
            self._live = index
            self._publish(event)
        else:
            self._waiting.append(index)
            self._held[index] = [event]

    def arguments(self, index: int, increment: str, events: Sequence[StreamEvent]) -> None:
        """Record an argument increment of call `index` and the delta events it produced."""
        self._arguments[index].append(increment)
        if index != self._live:
            self._held[index].extend(events)
            return
        for event in events:
            self._publish(event)
        if self._complete(index):
            self._advance()

    def flush(self) -> None:
        """The turn ended: stream everything held back, call by call."""
        while self._waiting:
            self._release(self._waiting.pop(0))
        self._live = None

    def _advance(self) -> None:
        self._live = None
        while self._waiting:
            index = self._waiting.pop(0)
            self._release(index)
            if not self._complete(index):
                self._live = index
                return

    def _release(self, index: int) -> None:
        for event in self._held.pop(index, []):
            self._publish(event)

    def _complete(self, index: int) -> bool:
        text = "".join(self._arguments[index]).rstrip()
        if not text.endswith(("}", "]")):
            return False  # cheap pre-check: objects and arrays are what models send
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError:
            return False
        return True
