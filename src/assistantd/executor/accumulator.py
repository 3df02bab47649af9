"""Merges chat-completion chunk deltas into the answer, reporting what changed per chunk.

`ChatAccumulator.add(chunk)` returns a `ChunkUpdate` the executor turns into Assistants deltas:
a text increment, tool calls that just became known (index, id, name: the header delta), and
argument increments. The rules that make odd servers work:

* Tool calls are keyed by the upstream `index`; our `index` is the dense position (0, 1, ...)
  in the order calls appear. A delta with a *different* `id` at a known index starts a new call
  (servers that send every parallel call at index 0); a delta without `index` continues the
  last call.
* `id` and `name` are set once (the SDK would concatenate repeats). A call is announced only
  once its name is known; arguments that arrived earlier go out with the announcement. A call
  without an upstream id gets a fresh `call_` id.
* Only choice 0 is read; usage-only chunks (`choices: []`) and empty chunks are fine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assistantd.ids import CALL, new_id
from assistantd.upstream.types import ChatChunk, CompletionUsage, ToolCallChunk


@dataclass(slots=True)
class ToolCallState:
    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""
    announced: bool = False


@dataclass(slots=True, frozen=True)
class NewToolCall:
    index: int
    id: str
    name: str


@dataclass(slots=True)
class ChunkUpdate:
    """What one chunk changed. Empty strings/lists mean "nothing new"."""

    text: str = ""
    refusal: str = ""
    new_tool_calls: list[NewToolCall] = field(default_factory=list)
    arguments: list[tuple[int, str]] = field(default_factory=list)  # (index, increment)
    finish_reason: str | None = None
    usage: CompletionUsage | None = None


class ChatAccumulator:
    def __init__(self) -> None:
        self._text: list[str] = []
        self._refusal: list[str] = []
        self.tool_calls: list[ToolCallState] = []
        self._by_upstream_index: dict[int, ToolCallState] = {}
        self.finish_reason: str | None = None
        self.usage: CompletionUsage | None = None

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def refusal(self) -> str:
        return "".join(self._refusal)

    def add(self, chunk: ChatChunk) -> ChunkUpdate:
        update = ChunkUpdate()
        usage = chunk.get("usage")
        if usage:
            self.usage = update.usage = usage
        choices = chunk.get("choices")
        if not choices:
            return update
        choice = choices[0]
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if content:
            self._text.append(content)
            update.text = content
        refusal = delta.get("refusal")
        if refusal:
            self._refusal.append(refusal)
            update.refusal = refusal
        for part in delta.get("tool_calls") or ():
            self._tool_call(part, update)
        finish = choice.get("finish_reason")
        if finish:
            self.finish_reason = update.finish_reason = finish
        return update

    def _tool_call(self, part: ToolCallChunk, update: ChunkUpdate) -> None:
        call = self._call_for(part)
        upstream_id = part.get("id")
        if upstream_id and not call.id:
            call.id = upstream_id
        function = part.get("function") or {}
        name = function.get("name")
        if name and not call.name:
            call.name = name
        arguments = function.get("arguments") or ""
        call.arguments += arguments
        if not call.announced and call.name:
            call.announced = True
            call.id = call.id or new_id(CALL)
            update.new_tool_calls.append(NewToolCall(call.index, call.id, call.name))
            if call.arguments:
                update.arguments.append((call.index, call.arguments))
        elif call.announced and arguments:
            update.arguments.append((call.index, arguments))

    def _call_for(self, part: ToolCallChunk) -> ToolCallState:
        upstream_index = part.get("index")
        upstream_id = part.get("id")
        if upstream_index is None:
            known = self.tool_calls[-1] if self.tool_calls else None
        else:
            known = self._by_upstream_index.get(upstream_index)
        if known is not None and not (upstream_id and known.id and upstream_id != known.id):
            return known
        call = ToolCallState(index=len(self.tool_calls))
        self.tool_calls.append(call)
        if upstream_index is not None:
            self._by_upstream_index[upstream_index] = call
        return call
