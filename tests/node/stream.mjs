// Streams a run and completes a function round trip with the official Node SDK's helpers.
// Usage: OPENAI_BASE_URL=... OPENAI_API_KEY=... node stream.mjs
// Prints one line per fact the pytest side asserts on (tests/e2e/test_node_sdk.py).
import OpenAI from "openai";

const client = new OpenAI({ maxRetries: 0 });
const tool = { type: "function", function: { name: "get_weather", parameters: { type: "object" } } };
const assistant = await client.beta.assistants.create({ model: "gpt-4o", tools: [tool] });
const thread = await client.beta.threads.create({
  messages: [{ role: "user", content: "Say hi" }],
});

let text = "";
const first = client.beta.threads.runs
  .stream(thread.id, { assistant_id: assistant.id })
  .on("textDelta", (delta) => {
    text += delta.value;
  });
const greeted = await first.finalRun();
console.log(`text: ${text}`);
console.log(`status: ${greeted.status}`);
console.log(`final text: ${(await first.finalMessages())[0].content[0].text.value}`);

await client.beta.threads.messages.create(thread.id, { role: "user", content: "Weather?" });
const calls = [];
const second = client.beta.threads.runs
  .stream(thread.id, { assistant_id: assistant.id })
  .on("toolCallDone", (call) => calls.push(call));
const waiting = await second.finalRun();
console.log(`status: ${waiting.status}`);
console.log(`tool call: ${calls[0].function.name} ${calls[0].function.arguments}`);

let answer = "";
const events = [];
const third = client.beta.threads.runs
  .submitToolOutputsStream(thread.id, waiting.id, {
    tool_outputs: [{ tool_call_id: calls[0].id, output: "sunny" }],
  })
  .on("event", (event) => events.push(event.event))
  .on("textDelta", (delta) => {
    answer += delta.value;
  });
const done = await third.finalRun();
console.log(`first event: ${events[0]}`);
console.log(`answer: ${answer}`);
console.log(`status: ${done.status}`);
