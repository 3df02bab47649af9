"""A program written for the v1 Assistants API (`openai` 1.x before 1.21, `OpenAI-Beta:
assistants=v1`), in the style of the guides of early 2024: upload a CSV, give it to an assistant
with `file_ids` and the code interpreter, start a thread whose message carries `file_ids`, poll
the run, then replace the annotations of the answer with footnotes.

It runs unchanged against assistantd with only OPENAI_BASE_URL and OPENAI_API_KEY set, through
the v1-era SDK (`pip install "openai==1.20.0"`).
"""

import time

from openai import OpenAI

client = OpenAI()

with open("sales.csv", "w", encoding="utf-8") as handle:
    handle.write("region,quarter,total\nnorth,Q1,10\nnorth,Q2,20\nsouth,Q1,5\nsouth,Q2,7\n")

with open("sales.csv", "rb") as data:
    file = client.files.create(file=data, purpose="assistants")

assistant = client.beta.assistants.create(
    name="Data analyst",
    description="You analyse the .csv files you are given and summarise the trends you find.",
    model="gpt-4o",
    tools=[{"type": "code_interpreter"}],
    file_ids=[file.id],
)

thread = client.beta.threads.create(
    messages=[
        {
            "role": "user",
            "content": "Total the sales of each region in the attached file, save the totals "
            "as totals.csv and tell me which region sold more.",
            "file_ids": [file.id],
        }
    ]
)

run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
while run.status in ("queued", "in_progress"):
    time.sleep(0.5)
    run = client.beta.threads.runs.retrieve(thread_id=thread.id, run_id=run.id)
print("run:", run.status)

messages = client.beta.threads.messages.list(thread_id=thread.id)
message = client.beta.threads.messages.retrieve(thread_id=thread.id, message_id=messages.data[0].id)

# The guide's loop: replace each annotation with a footnote number, list the sources below.
message_content = message.content[0].text
annotations = message_content.annotations
citations = []
for index, annotation in enumerate(annotations):
    message_content.value = message_content.value.replace(annotation.text, f" [{index}]")
    if file_citation := getattr(annotation, "file_citation", None):
        cited_file = client.files.retrieve(file_citation.file_id)
        citations.append(f"[{index}] {file_citation.quote} from {cited_file.filename}")
    elif file_path := getattr(annotation, "file_path", None):
        cited_file = client.files.retrieve(file_path.file_id)
        citations.append(f"[{index}] Click <here> to download {cited_file.filename}")
message_content.value += "\n" + "\n".join(citations)
print(message_content.value)

for step in client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id):
    if step.step_details.type == "tool_calls":
        for call in step.step_details.tool_calls:
            if call.type == "code_interpreter":
                for output in call.code_interpreter.outputs:
                    if output.type == "logs":
                        print("code output >", output.logs.strip())

client.beta.assistants.delete(assistant.id)
client.beta.threads.delete(thread.id)
client.files.delete(file.id)
