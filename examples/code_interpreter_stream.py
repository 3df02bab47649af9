"""Ask a code-interpreter assistant to add up 1..100 and watch the run stream.

The program is written for OpenAI's Assistants API and runs unchanged against assistantd: the
SDK reads the server's address and key from the environment,

    OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=local \
        python examples/code_interpreter_stream.py

It makes an assistant with the code interpreter, a thread, and two streamed runs: a greeting,
then a question the model answers by writing and running Python. An event handler prints the
answer token by token, the code as the model writes it, and the code's output after `output >`.
The model name is the one the assistant is created with; use one your upstream serves.
"""

import warnings

from openai import AssistantEventHandler, OpenAI
from typing_extensions import override

# The SDK flags every Assistants call as deprecated: OpenAI retired the API, assistantd serves it.
warnings.filterwarnings("ignore", category=DeprecationWarning)
client = OpenAI()  # OPENAI_BASE_URL and OPENAI_API_KEY come from the environment


class EventHandler(AssistantEventHandler):
    @override
    def on_text_created(self, text) -> None:
        print("\nassistant > ", end="", flush=True)

    @override
    def on_text_delta(self, delta, snapshot) -> None:
        print(delta.value, end="", flush=True)

    @override
    def on_tool_call_created(self, tool_call) -> None:
        print(f"\nassistant > {tool_call.type}\n", flush=True)

    @override
    def on_tool_call_delta(self, delta, snapshot) -> None:
        if delta.type == "code_interpreter":
            if delta.code_interpreter.input:
                print(delta.code_interpreter.input, end="", flush=True)
            if delta.code_interpreter.outputs:
                print("\n\noutput >", flush=True)
                for output in delta.code_interpreter.outputs:
                    if output.type == "logs":
                        print(f"\n{output.logs}", flush=True)


assistant = client.beta.assistants.create(
    name="math tutor",
    instructions="You are a friendly math tutor. Write and run Python to answer.",
    tools=[{"type": "code_interpreter"}],
    model="gpt-4o",
)
thread = client.beta.threads.create()

client.beta.threads.messages.create(thread_id=thread.id, role="user", content="Who are you?")
with client.beta.threads.runs.stream(
    thread_id=thread.id,
    assistant_id=assistant.id,
    event_handler=EventHandler(),
) as stream:
    stream.until_done()

client.beta.threads.messages.create(
    thread_id=thread.id,
    role="user",
    content="Add up every integer from 1 to 100 with Python and tell me the result.",
)
with client.beta.threads.runs.stream(
    thread_id=thread.id,
    assistant_id=assistant.id,
    temperature=1.0,
    truncation_strategy={"type": "last_messages", "last_messages": 3},
    event_handler=EventHandler(),
) as stream:
    stream.until_done()
print()

client.beta.assistants.delete(assistant_id=assistant.id)
client.beta.threads.delete(thread_id=thread.id)
