// Threads: the project's threads (GET /v1/threads when the server has it, else the threads this
// browser has seen, or an id typed in), and one thread as a chat with its runs' timelines.
import { all, del, get } from "./api.js";
import { messageView, runView } from "./render.js";
import { h, seen, show, table, toast, when } from "./ui.js";

async function listThreads() {
  try {
    return { threads: await all("threads?order=desc", 200), listed: true };
  } catch (error) {
    if (error.status !== 404 && error.status !== 405) throw error;
  }
  const threads = [];
  for (const id of seen.list()) {
    try { threads.push(await get(`threads/${id}`)); } catch (error) {
      if (error.status === 404) seen.remove(id); else throw error;
    }
  }
  return { threads, listed: false };
}

export async function threadsView() {
  const { threads, listed } = await listThreads();
  const id = h("input", { name: "thread_id", placeholder: "thread_…", required: true, "aria-label": "Thread ID" });
  const open = h("form", { class: "inline", onsubmit: (event) => {
    event.preventDefault();
    location.hash = `#/threads/${id.value.trim()}`;
  } }, id, h("button", { type: "submit" }, "Open"));
  const rows = threads.map((t) => h("tr", {},
    h("td", {}, h("a", { href: `#/threads/${t.id}` }, h("code", {}, t.id))),
    h("td", {}, Object.entries(t.metadata || {}).map(([k, v]) => `${k}=${v}`).join(", ")),
    h("td", {}, when(t.created_at))));
  show(h("div", { class: "bar" }, h("h1", {}, "Threads"), open),
    listed ? null : h("p", { class: "muted" }, "This server does not list threads: shown are the threads this browser has seen."),
    table(["ID", "Metadata", "Created"], rows, "No threads yet: start one in the playground."));
}

export async function threadView(threadId) {
  const thread = await get(`threads/${threadId}`);
  seen.add(thread.id);
  const chat = h("div", { class: "chat", id: "chat" });
  const runs = h("div", { class: "runs", id: "runs" });
  let timer = null;

  async function refresh() {
    const [messages, runList] = await Promise.all([
      all(`threads/${thread.id}/messages?order=asc`, 500),
      get(`threads/${thread.id}/runs?order=desc&limit=20`),
    ]);
    chat.replaceChildren(...messages.map(messageView));
    if (!messages.length) chat.append(h("p", { class: "empty" }, "No messages."));
    runs.replaceChildren(...await Promise.all(runList.data.map(runView)));
    if (!runList.data.length) runs.append(h("p", { class: "empty" }, "No runs yet."));
    const active = runList.data.some((r) => ["queued", "in_progress", "cancelling"].includes(r.status));
    clearTimeout(timer);
    if (active) timer = setTimeout(() => refresh().catch(() => {}), 1500);
  }
  await refresh();
  const remove = h("button", { type: "button", class: "danger", onclick: async (event) => {
    if (event.currentTarget.dataset.armed !== "1") {
      event.currentTarget.dataset.armed = "1";
      event.currentTarget.textContent = "Really delete?";
      return;
    }
    await del(`threads/${thread.id}`);
    seen.remove(thread.id);
    toast("Thread deleted");
    location.hash = "#/threads";
  } }, "Delete thread");
  show(
    h("div", { class: "bar" }, h("h1", {}, "Thread"),
      h("div", { class: "actions" },
        h("a", { class: "button", href: "#/playground", onclick: () => sessionStorage.setItem("assistantd.playground.thread", thread.id) }, "Continue in playground"),
        h("button", { type: "button", onclick: () => refresh() }, "Refresh"), remove)),
    h("p", { class: "muted" }, h("code", {}, thread.id), " · created ", when(thread.created_at)),
    h("div", { class: "split" },
      h("section", { "aria-label": "Conversation" }, h("h2", {}, "Conversation"), chat),
      h("section", { "aria-label": "Runs" }, h("h2", {}, "Runs"), runs)));
  return () => clearTimeout(timer);
}

