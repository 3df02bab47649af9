// The playground: pick an assistant, chat, watch the answer stream token by token with tool
// calls and code output appearing live, answer function calls by hand, cancel a run.
import { all, get, post, stream } from "./api.js";
import { messageView, stepView } from "./render.js";
import { badge, errorBox, field, h, seen, show } from "./ui.js";

const THREAD = "assistantd.playground.thread";
const ACTIVE = ["queued", "in_progress", "requires_action", "cancelling"];

export async function playgroundView(assistantId) {
  const assistants = await all("assistants?order=desc");
  if (!assistants.length) {
    return show(h("h1", {}, "Playground"), h("p", { class: "empty" }, "Make an assistant first: ",
      h("a", { href: "#/assistants/new" }, "new assistant"), "."));
  }
  const picker = h("select", { name: "assistant", id: "pg-assistant" }, assistants.map((a) =>
    h("option", { value: a.id, selected: a.id === assistantId }, `${a.name || "(unnamed)"} · ${a.model} · ${a.id}`)));
  const chat = h("div", { class: "chat live", id: "pg-chat", "aria-live": "polite" });
  const status = h("div", { class: "run-status", id: "pg-status" });
  const action = h("div", { id: "pg-action" });
  const input = h("textarea", { id: "pg-input", rows: 3, placeholder: "Message… (Enter sends, Shift+Enter for a new line)", "aria-label": "Message" });
  const send = h("button", { type: "submit", class: "primary", id: "pg-send" }, "Send");
  const cancel = h("button", { type: "button", class: "danger", id: "pg-cancel", hidden: true }, "Cancel run");
  const threadLabel = h("span", { class: "muted", id: "pg-thread" });
  let threadId = sessionStorage.getItem(THREAD);
  let run = null;
  let controller = null;

  function setThread(id) {
    threadId = id;
    if (id) { sessionStorage.setItem(THREAD, id); seen.add(id); } else sessionStorage.removeItem(THREAD);
    threadLabel.replaceChildren(id ? h("a", { href: `#/threads/${id}` }, id) : "new thread");
  }

  function setRun(next) {
    run = next;
    status.replaceChildren(badge(next.status), " ", h("code", {}, next.id),
      next.usage ? h("span", { class: "muted" }, ` · ${next.usage.total_tokens} tokens`) : "",
      next.last_error ? h("span", { class: "error inline-error" }, ` ${next.last_error.code}: ${next.last_error.message}`) : "");
    const busy = ACTIVE.includes(next.status);
    cancel.hidden = !busy || next.status === "cancelling";
    send.disabled = busy;
  }

  // Live pieces: the message being written, the step being run, keyed by their ids.
  const live = new Map();
  function liveMessage(id) {
    if (!live.has(id)) {
      const text = h("div", { class: "text" });
      const el = h("article", { class: "bubble assistant streaming", dataset: { messageId: id } }, h("header", {}, "assistant"), h("div", { class: "bubble-body" }, text));
      chat.append(el);
      live.set(id, { el, text });
    }
    return live.get(id);
  }
  function liveStep(step) {
    if (!live.has(step.id)) {
      const el = h("div", { class: "tool-live", dataset: { stepId: step.id } });
      chat.append(el);
      live.set(step.id, { el, calls: new Map() });
    }
    return live.get(step.id);
  }
  function liveCall(entry, delta) {
    if (!entry.calls.has(delta.index)) {
      const kind = delta.type === "function" ? `Function ${delta.function?.name || ""}` : delta.type === "code_interpreter" ? "Code interpreter" : "File search";
      const code = h("pre", { class: "code" });
      const logs = h("pre", { class: "logs" });
      entry.el.append(h("div", { class: "tool" }, h("h4", {}, kind, " ", h("span", { class: "muted" }, "running…")), code, logs));
      entry.calls.set(delta.index, { code, logs });
    }
    return entry.calls.get(delta.index);
  }

  function onEvent(name, data) {
    if (name.startsWith("thread.run.step.")) {
      if (data.object === "thread.run.step.delta") {
        for (const delta of data.delta.step_details?.tool_calls || []) {
          const call = liveCall(liveStep(data), delta);
          if (delta.code_interpreter?.input) call.code.append(delta.code_interpreter.input);
          for (const out of delta.code_interpreter?.outputs || []) if (out.logs) call.logs.append(out.logs);
          if (delta.function?.arguments) call.code.append(delta.function.arguments);
        }
      } else if (data.step_details?.type === "tool_calls" && data.status !== "in_progress") {
        const entry = liveStep(data);
        entry.el.replaceChildren(h("ol", { class: "timeline" }, stepView(data)));
      }
    } else if (name === "thread.message.created" && data.role === "assistant") {
      liveMessage(data.id);
    } else if (name === "thread.message.delta") {
      for (const part of data.delta.content || []) if (part.text?.value) liveMessage(data.id).text.append(part.text.value);
    } else if (name === "thread.message.completed" || name === "thread.message.incomplete") {
      const entry = liveMessage(data.id);
      const done = messageView(data);
      entry.el.replaceWith(done);
      entry.el = done;
    } else if (name.startsWith("thread.run.")) {
      setRun(data);
      if (name === "thread.run.requires_action") askForOutputs(data);
    } else if (name === "error") {
      action.replaceChildren(errorBox(data, "The stream reported an error"));
    }
  }

  async function consume(path, body) {
    controller = new AbortController();
    try {
      await stream(path, body, onEvent, controller.signal);
    } catch (error) {
      if (error.name !== "AbortError") action.replaceChildren(errorBox(error, "The run could not go on"));
    } finally {
      controller = null;
      if (run && !ACTIVE.includes(run.status)) send.disabled = false;
      if (!run) send.disabled = false;
    }
  }

  function askForOutputs(current) {
    const calls = current.required_action.submit_tool_outputs.tool_calls;
    const outputs = calls.map((c) => h("textarea", { rows: 2, name: `output-${c.id}`, dataset: { toolCallId: c.id } }));
    const form = h("form", { class: "card action", id: "pg-outputs", onsubmit: async (event) => {
      event.preventDefault();
      const tool_outputs = calls.map((c, i) => ({ tool_call_id: c.id, output: outputs[i].value }));
      action.replaceChildren();
      await consume(`threads/${current.thread_id}/runs/${current.id}/submit_tool_outputs`, { tool_outputs });
    } },
    h("h3", {}, "The assistant called a function — answer it"),
    calls.map((c, i) => h("div", { class: "call" },
      h("p", {}, h("strong", {}, c.function.name), " with ", h("code", {}, c.function.arguments)),
      field(`Output of ${c.function.name}`, outputs[i]))),
    h("button", { type: "submit", class: "primary" }, "Submit outputs"));
    action.replaceChildren(form);
    outputs[0]?.focus();
  }

  async function submit(event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || send.disabled) return;
    send.disabled = true;
    action.replaceChildren();
    input.value = "";
    const assistant_id = picker.value;
    const message = { role: "user", content: text };
    try {
      if (!threadId) {
        const thread = await post("threads", { messages: [message] });
        setThread(thread.id);
        chat.append(messageView((await get(`threads/${thread.id}/messages?limit=1`)).data[0]));
      } else {
        chat.append(messageView(await post(`threads/${threadId}/messages`, message)));
      }
    } catch (error) {
      send.disabled = false;
      action.replaceChildren(errorBox(error, "The message was not sent"));
      return;
    }
    await consume(`threads/${threadId}/runs`, { assistant_id });
  }

  cancel.addEventListener("click", async () => {
    if (!run) return;
    try {
      const answer = await post(`threads/${run.thread_id}/runs/${run.id}/cancel`);
      // The stream may have told the end (thread.run.cancelled) before this answer, which was
      // `cancelling` when it was sent: never go back from an ended run to an active one.
      if (!(run.id === answer.id && !ACTIVE.includes(run.status))) setRun(answer);
    } catch (error) {
      action.replaceChildren(errorBox(error, "The run was not cancelled"));
    }
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      input.form.requestSubmit();
    }
  });
  const fresh = h("button", { type: "button", id: "pg-new", onclick: () => {
    setThread(null);
    chat.replaceChildren();
    status.replaceChildren();
    action.replaceChildren();
    run = null;
    send.disabled = false;
  } }, "New thread");

  setThread(threadId);
  if (threadId) {
    try {
      const messages = await all(`threads/${threadId}/messages?order=asc`, 200);
      chat.replaceChildren(...messages.map(messageView));
      const latest = (await get(`threads/${threadId}/runs?limit=1`)).data[0];
      if (latest) {
        setRun(latest);
        if (latest.status === "requires_action") askForOutputs(latest);
      }
    } catch (error) {
      if (error.status !== 404) throw error;
      setThread(null); // deleted meanwhile: start afresh
    }
  }
  show(
    h("div", { class: "bar" }, h("h1", {}, "Playground"), h("div", { class: "actions" }, fresh)),
    h("div", { class: "pg-top" }, field("Assistant", picker), h("p", {}, "Thread: ", threadLabel)),
    chat, status, action,
    h("form", { class: "composer", id: "pg-form", onsubmit: submit }, input, h("div", { class: "actions" }, send, cancel)));
  input.focus();
  return () => controller?.abort();
}
