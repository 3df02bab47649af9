"""The tool calls of a model turn: server tools (code interpreter, file search) run here, in
order, each in its own span; user functions stop the run at `requires_action`. Also the
finalizer through which the runners complete an answer (citations, file links, figures)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assistantd.executor.run_context import RunContext
from assistantd.executor.transitions import RunTransitions
from assistantd.executor.turn import TurnResult
from assistantd.observability import Tracing
from assistantd.observability.tracing import run_attributes
from assistantd.run_steps.schemas import FunctionToolCall, ToolCallsStepDetails
from assistantd.runs.schemas import Run
from assistantd.tools.base import (
    CODE_INTERPRETER_DEFINITION,
    FILE_SEARCH_DEFINITION,
    ToolContext,
    ToolRunner,
    ToolUnavailable,
)

SERVER_TOOL_DEFINITIONS: dict[str, dict[str, Any]] = {
    "code_interpreter": CODE_INTERPRETER_DEFINITION,
    "file_search": FILE_SEARCH_DEFINITION,
}


class ToolCalls:
    def __init__(
        self, runners: Mapping[str, ToolRunner], tracing: Tracing, transitions: RunTransitions
    ) -> None:
        self._runners = dict(runners)
        self._tracing = tracing
        self._transitions = transitions

    async def run(self, ctx: RunContext, result: TurnResult) -> bool:
        """Run the turn's calls; True when the loop should call the model again."""
        step = result.tool_step
        assert step is not None
        calls = list(result.tool_calls)
        for index, call in enumerate(calls):
            if isinstance(call, FunctionToolCall):
                continue
            runner = self._runners.get(call.type)
            if runner is None:
                raise ToolUnavailable(f"The {call.type} tool is not available on this server.")
            context = ToolContext(
                ctx.project,
                ctx.run,
                step,
                index,
                self._transitions.publisher(ctx.run),
                result.arguments.get(call.id, ""),
                ctx.fence,
            )
            ctx.tool = (runner, context)
            attributes = {
                **run_attributes(ctx.run),
                "assistantd.tool.type": call.type,
                "assistantd.tool_call_id": call.id,
                "assistantd.step_id": step.id,
            }
            with self._tracing.span(f"tool {call.type}", attributes):
                calls[index] = await runner.run(call, context)
            ctx.tool = None
        step = step.model_copy(update={"step_details": ToolCallsStepDetails(tool_calls=calls)})
        functions = [call for call in calls if isinstance(call, FunctionToolCall)]
        if functions:
            await self._transitions.save_step(ctx, step)
            action = {
                "type": "submit_tool_outputs",
                "submit_tool_outputs": {
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {
                                "name": c.function.name,
                                "arguments": c.function.arguments,
                            },
                        }
                        for c in functions
                    ]
                },
            }
            await self._transitions.advance(ctx, "requires_action", required_action=action)
            return False
        await self._transitions.close_step(ctx, step, "completed")
        return True

    def finalizer(self, run: Run) -> Any:
        """Completes an answer with what the run's tools produced (citations, file links,
        figures): each runner that has a `finalize` gets its turn."""
        steps = [
            runner.finalize for runner in self._runners.values() if hasattr(runner, "finalize")
        ]

        async def finalize(message_id: str, blocks: Any, publish: Any) -> Any:
            for step in steps:
                blocks = await step(run, message_id, blocks, publish)
            return blocks

        return finalize if steps else None
