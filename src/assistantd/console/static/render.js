// Rendering of messages (text with citations and file links, images) and of a run with the
// timeline of its steps (tool calls with code, logs, images, search results), shared by the
// thread page and the playground.
import { fileBlobUrl, fileName, get } from "./api.js";
import { badge, duration, h, when } from "./ui.js";

export function downloadLink(fileId, label) {
  return h("a", { href: "#", class: "file-link", dataset: { fileId }, onclick: async (event) => {
    event.preventDefault();
    const a = h("a", { href: await fileBlobUrl(fileId), download: await fileName(fileId) });
    document.body.append(a);
    a.click();
    a.remove();
  } }, label);
}

function image(fileId) {
  const img = h("img", { alt: "image " + fileId, class: "figure", loading: "lazy" });
  fileBlobUrl(fileId).then((src) => { img.src = src; }, () => { img.alt = `image ${fileId} is not available`; });
  return img;
}

/** A text part with its annotations: citations become numbered notes naming the file, file
 * paths become download links. */
export function richText(text) {
  const out = h("div", { class: "text" });
  const notes = [];
  const annotations = [...(text.annotations || [])].sort((a, b) => a.start_index - b.start_index);
  let at = 0;
  for (const note of annotations) {
    if (note.start_index < at) continue;
    out.append(text.value.slice(at, note.start_index));
    if (note.type === "file_citation") {
      const n = notes.length + 1;
      const label = h("span", {}, note.file_citation.file_id);
      fileName(note.file_citation.file_id).then((name) => { label.textContent = name; });
      notes.push(h("li", { class: "citation", dataset: { fileId: note.file_citation.file_id } }, label));
      out.append(h("sup", { class: "cite" }, `[${n}]`));
    } else if (note.type === "file_path") {
      const name = note.text.split("/").pop();
      out.append(downloadLink(note.file_path.file_id, name));
    }
    at = note.end_index;
  }
  out.append(text.value.slice(at));
  return notes.length ? [out, h("ol", { class: "notes", "aria-label": "Sources" }, notes)] : out;
}

export function messageView(message) {
  const body = h("div", { class: "bubble-body" });
  for (const part of message.content || []) {
    if (part.type === "text") body.append(...[richText(part.text)].flat());
    else if (part.type === "image_file") body.append(image(part.image_file.file_id));
    else if (part.type === "image_url") body.append(h("a", { href: part.image_url.url, rel: "noreferrer" }, "image: " + part.image_url.url));
  }
  const files = (message.attachments || []).map((a) => downloadLink(a.file_id, "📎 " + a.file_id));
  files.forEach((link, i) => fileName(message.attachments[i].file_id).then((n) => { link.textContent = "📎 " + n; }));
  return h("article", { class: `bubble ${message.role}`, dataset: { messageId: message.id } },
    h("header", {}, message.role, message.status === "incomplete" ? " · incomplete" : ""),
    body, files.length ? h("div", { class: "attachments" }, files) : null);
}

export function toolCall(call) {
  if (call.type === "code_interpreter") {
    const ci = call.code_interpreter;
    return h("div", { class: "tool" }, h("h4", {}, "Code interpreter"),
      h("pre", { class: "code" }, ci.input || ""),
      (ci.outputs || []).map((o) => o.type === "logs" ? h("pre", { class: "logs" }, o.logs) : image(o.image.file_id)));
  }
  if (call.type === "file_search") {
    const results = call.file_search?.results || [];
    return h("div", { class: "tool" }, h("h4", {}, `File search · ${results.length} result${results.length === 1 ? "" : "s"}`),
      h("ol", { class: "results" }, results.map((r) => h("li", {},
        h("div", {}, h("strong", {}, r.file_name || r.file_id), " ", h("span", { class: "score" }, `score ${r.score.toFixed(3)}`)),
        (r.content || []).map((c) => h("p", { class: "chunk" }, c.text))))));
  }
  const fn = call.function;
  return h("div", { class: "tool" }, h("h4", {}, `Function ${fn.name}`),
    h("pre", { class: "code" }, fn.arguments),
    fn.output !== null && fn.output !== undefined ? h("pre", { class: "logs" }, "→ " + fn.output) : h("p", { class: "muted" }, "no output yet"));
}

export function stepView(step) {
  const ended = step.completed_at || step.failed_at || step.cancelled_at || step.expired_at;
  const details = step.step_details.type === "message_creation"
    ? h("p", {}, "Wrote message ", h("code", {}, step.step_details.message_creation.message_id))
    : step.step_details.tool_calls.map(toolCall);
  return h("li", { class: "step", dataset: { stepId: step.id } },
    h("div", { class: "step-head" }, badge(step.status), " ",
      step.step_details.type === "tool_calls" ? "Tool calls" : "Message", " ",
      h("span", { class: "muted" }, when(step.created_at), ended ? ` · ${duration(step.created_at, ended)}` : "")),
    step.last_error ? h("p", { class: "error" }, step.last_error.message) : null,
    details);
}

const INCLUDE = "include[]=step_details.tool_calls[*].file_search.results[*].content";

export async function runView(run) {
  const steps = await get(`threads/${run.thread_id}/runs/${run.id}/steps?order=asc&limit=100&${INCLUDE}`);
  const ended = run.completed_at || run.failed_at || run.cancelled_at || run.expired_at || run.incomplete_at;
  const usage = run.usage;
  return h("section", { class: "run card", dataset: { runId: run.id } },
    h("header", { class: "run-head" }, badge(run.status), " ", h("code", {}, run.id)),
    h("dl", { class: "facts" },
      h("dt", {}, "Model"), h("dd", {}, run.model),
      h("dt", {}, "Assistant"), h("dd", {}, h("a", { href: `#/assistants/${run.assistant_id}` }, run.assistant_id)),
      h("dt", {}, "Started"), h("dd", {}, when(run.started_at || run.created_at)),
      h("dt", {}, "Took"), h("dd", {}, ended ? duration(run.started_at || run.created_at, ended) : "running"),
      h("dt", {}, "Tokens"), h("dd", { class: "usage" }, usage ? `${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion = ${usage.total_tokens}` : "—")),
    run.last_error ? h("p", { class: "error" }, `${run.last_error.code}: ${run.last_error.message}`) : null,
    h("h3", {}, "Timeline"),
    h("ol", { class: "timeline" }, steps.data.map(stepView)));
}
