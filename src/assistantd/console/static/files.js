// Files (upload with progress, download, delete) and vector stores (create, add files, file
// counts and statuses updating live while they ingest, a search box showing ranked chunks).
import { all, del, get, post, upload } from "./api.js";
import { downloadLink } from "./render.js";
import { badge, bytes, errorBox, h, show, table, toast, when } from "./ui.js";

function uploader(purpose, onUploaded) {
  const picker = h("input", { type: "file", multiple: true, id: "upload-input", "aria-label": "Files to upload" });
  const progress = h("div", { class: "uploads", "aria-live": "polite" });
  const form = h("form", { class: "inline", id: "upload-form", onsubmit: async (event) => {
    event.preventDefault();
    for (const file of picker.files) {
      const bar = h("progress", { max: 1, value: 0 });
      const line = h("div", { class: "upload" }, file.name, " ", bar);
      progress.append(line);
      try {
        const stored = await upload(file, purpose, (fraction) => { bar.value = fraction; });
        bar.value = 1;
        line.append(" ✓");
        await onUploaded(stored);
      } catch (error) {
        line.replaceWith(errorBox(error, `${file.name} was not uploaded`));
      }
    }
    picker.value = "";
  } }, picker, h("button", { type: "submit", class: "primary" }, "Upload"));
  return [form, progress];
}

export async function filesView() {
  const list = h("div", { id: "files" });
  async function refresh() {
    const files = await all("files?order=desc");
    list.replaceChildren(table(["Name", "Size", "Purpose", "Created", "ID", ""], files.map((f) => h("tr", { dataset: { fileId: f.id } },
      h("td", {}, downloadLink(f.id, f.filename)), h("td", {}, bytes(f.bytes)), h("td", {}, f.purpose),
      h("td", {}, when(f.created_at)), h("td", {}, h("code", {}, f.id)),
      h("td", {}, h("button", { type: "button", class: "link danger", onclick: async () => {
        await del(`files/${f.id}`);
        toast(`${f.filename} deleted`);
        refresh();
      } }, "Delete")))), "No files yet."));
  }
  await refresh();
  show(h("h1", {}, "Files"), h("div", { class: "card" }, h("h2", {}, "Upload"), uploader("assistants", refresh)), list);
}

export async function storesView() {
  const stores = await all("vector_stores?order=desc");
  const name = h("input", { name: "name", placeholder: "Store name", "aria-label": "New store name", required: true });
  const create = h("form", { class: "inline", id: "store-form", onsubmit: async (event) => {
    event.preventDefault();
    const store = await post("vector_stores", { name: name.value.trim() });
    location.hash = `#/vector-stores/${store.id}`;
  } }, name, h("button", { type: "submit", class: "primary" }, "Create store"));
  show(h("div", { class: "bar" }, h("h1", {}, "Vector stores"), create),
    table(["Name", "Files", "Size", "Status", "ID"], stores.map((s) => h("tr", {},
      h("td", {}, h("a", { href: `#/vector-stores/${s.id}` }, s.name || "(unnamed)")),
      h("td", {}, `${s.file_counts.completed}/${s.file_counts.total}`), h("td", {}, bytes(s.usage_bytes)),
      h("td", {}, badge(s.status)), h("td", {}, h("code", {}, s.id)))), "No vector stores yet."));
}

export async function storeView(storeId) {
  let store = await get(`vector_stores/${storeId}`);
  const counts = h("p", { class: "counts", id: "store-counts", "aria-live": "polite" });
  const files = h("div", { id: "store-files" });
  const names = new Map();
  let timer = null;

  async function refresh() {
    store = await get(`vector_stores/${storeId}`);
    const c = store.file_counts;
    counts.replaceChildren(`${c.total} file${c.total === 1 ? "" : "s"}: ${c.completed} completed, ${c.in_progress} in progress, ${c.failed} failed, ${c.cancelled} cancelled · ${bytes(store.usage_bytes)}`);
    const list = await all(`vector_stores/${storeId}/files`);
    for (const f of list) if (!names.has(f.id)) names.set(f.id, get(`files/${f.id}`).then((x) => x.filename, () => f.id));
    const rows = await Promise.all(list.map(async (f) => h("tr", { dataset: { fileId: f.id } },
      h("td", {}, await names.get(f.id)), h("td", {}, badge(f.status)),
      h("td", {}, f.last_error ? f.last_error.message : ""), h("td", {}, h("code", {}, f.id)))));
    files.replaceChildren(table(["File", "Status", "Error", "ID"], rows, "No files in this store yet."));
    clearTimeout(timer);
    if (c.in_progress) timer = setTimeout(() => refresh().catch(() => {}), 700);
  }

  const existing = h("select", { id: "attach-file", "aria-label": "Uploaded file" },
    h("option", { value: "" }, "— pick an uploaded file —"),
    (await all("files?order=desc")).map((f) => h("option", { value: f.id }, `${f.filename} (${f.id})`)));
  const attach = h("form", { class: "inline", onsubmit: async (event) => {
    event.preventDefault();
    if (!existing.value) return;
    await post(`vector_stores/${storeId}/files`, { file_id: existing.value });
    refresh();
  } }, existing, h("button", { type: "submit" }, "Add"));

  const query = h("input", { type: "search", id: "search-query", placeholder: "Search this store", "aria-label": "Search query", required: true });
  const results = h("ol", { class: "results", id: "search-results", "aria-live": "polite" });
  const search = h("form", { class: "inline", id: "search-form", onsubmit: async (event) => {
    event.preventDefault();
    results.replaceChildren(h("li", { class: "muted" }, "Searching…"));
    try {
      const page = await post(`vector_stores/${storeId}/search`, { query: query.value, max_num_results: 10 });
      results.replaceChildren(...page.data.map((r) => h("li", { class: "result" },
        h("div", {}, h("strong", {}, r.filename), " ", h("span", { class: "score" }, `score ${r.score.toFixed(3)}`)),
        r.content.map((c) => h("p", { class: "chunk" }, c.text)))));
      if (!page.data.length) results.replaceChildren(h("li", { class: "empty" }, "No matches."));
    } catch (error) {
      results.replaceChildren(h("li", {}, errorBox(error, "Search failed")));
    }
  } }, query, h("button", { type: "submit", class: "primary" }, "Search"));

  await refresh();
  show(
    h("div", { class: "bar" }, h("h1", {}, store.name || "Vector store"), badge(store.status)),
    h("p", { class: "muted" }, h("code", {}, store.id), " · created ", when(store.created_at)),
    counts,
    h("div", { class: "split" },
      h("section", { class: "card" }, h("h2", {}, "Files"),
        uploader("assistants", async (file) => {
          await post(`vector_stores/${storeId}/files`, { file_id: file.id });
          await refresh();
        }),
        h("h3", {}, "Or add an uploaded file"), attach, files),
      h("section", { class: "card" }, h("h2", {}, "Search"), search, results)));
  return () => clearTimeout(timer);
}
