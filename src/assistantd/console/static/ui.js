// Small DOM helpers: elements are built with text nodes, never from HTML strings.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  for (const child of children.flat()) if (child) el.append(child);
  return el;
}

export function main() { return document.getElementById("main"); }

export function show(...children) {
  const el = main();
  el.replaceChildren(...children.flat().filter(Boolean));
  return el;
}

export function errorBox(error, hint) {
  const status = error.status ? ` (HTTP ${error.status})` : "";
  return h("div", { class: "error", role: "alert" },
    h("strong", {}, hint || "Something went wrong"), status, ": ", error.message || String(error));
}

export function toast(text) {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.classList.add("on");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove("on"), 3000);
}

export function when(seconds) {
  if (!seconds) return "";
  return new Date(seconds * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function duration(start, end) {
  if (!start || !end) return "";
  const s = end - start;
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

export function badge(status) {
  return h("span", { class: `badge s-${status}`, dataset: { status } }, status.replace(/_/g, " "));
}

export function field(label, input, help) {
  const id = input.id || `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), input, help && h("small", {}, help));
}

export function table(columns, rows, empty = "Nothing here yet.") {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows)));
}

/** Threads seen in this browser, for when the server has no thread listing. */
export const seen = {
  key() { return `assistantd.threads.${hash(sessionStorage.getItem("assistantd.key") || "")}`; },
  list() {
    try { return JSON.parse(localStorage.getItem(this.key()) || "[]"); } catch { return []; }
  },
  add(id) {
    const ids = [id, ...this.list().filter((x) => x !== id)].slice(0, 200);
    localStorage.setItem(this.key(), JSON.stringify(ids));
  },
  remove(id) { localStorage.setItem(this.key(), JSON.stringify(this.list().filter((x) => x !== id))); },
};

function hash(text) { // FNV-1a: only names a storage slot per key, never stores the key
  let value = 0x811c9dc5;
  for (const ch of text) value = Math.imul(value ^ ch.codePointAt(0), 0x01000193) >>> 0;
  return value.toString(16);
}
