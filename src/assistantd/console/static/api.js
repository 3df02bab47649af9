// The public API, called with the signed-in key (kept in sessionStorage only: it is gone when
// the tab closes). Errors become ApiError with OpenAI's message; streams are parsed as SSE.

const KEY = "assistantd.key";
const BASE = new URL("../v1/", location.href); // /console/ -> /v1/, also behind a path prefix

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set key(value) {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  },
};

function headers(extra = {}) {
  return { Authorization: `Bearer ${session.key || ""}`, "OpenAI-Beta": "assistants=v2", ...extra };
}

async function failure(response) {
  let body = null;
  let message = `${response.status} ${response.statusText}`;
  try {
    body = await response.json();
    if (body && body.error && body.error.message) message = body.error.message;
  } catch { /* not JSON: keep the status line */ }
  return new ApiError(response.status, message, body);
}

export function url(path, base = BASE) {
  return new URL(path.replace(/^\//, ""), base);
}

export async function call(method, path, body, { raw = false, base = BASE } = {}) {
  const init = { method, headers: headers() };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url(path, base), init);
  } catch (error) {
    throw new ApiError(0, `The server could not be reached (${error.message}).`);
  }
  if (!response.ok) throw await failure(response);
  if (raw) return response;
  return response.json();
}

export const get = (path) => call("GET", path);
export const post = (path, body = {}) => call("POST", path, body);
export const del = (path) => call("DELETE", path);

/** Every item of a list endpoint (follows `after` cursors, at most `max`). */
export async function all(path, max = 1000) {
  const items = [];
  let after = null;
  for (;;) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await get(`${path}${sep}limit=100${after ? `&after=${after}` : ""}`);
    items.push(...page.data);
    if (!page.has_more || !page.data.length || items.length >= max) return items;
    after = page.last_id;
  }
}

/** POST with stream=true; calls onEvent(name, data) for each SSE event until `done`. */
export async function stream(path, body, onEvent, signal) {
  const response = await fetch(url(path), {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
    body: JSON.stringify({ ...body, stream: true }),
    signal,
  });
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (!data.length) continue; // a keep-alive comment
      const text = data.join("\n");
      if (event === "done" || text === "[DONE]") return;
      onEvent(event, JSON.parse(text));
    }
  }
}

/** Upload with progress (fetch has none for request bodies). Resolves to the File object. */
export function upload(file, purpose, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url("files"));
    for (const [name, value] of Object.entries(headers())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* keep null */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body?.error?.message || `upload failed (${xhr.status})`, body));
    };
    xhr.onerror = () => reject(new ApiError(0, "The upload could not reach the server."));
    const form = new FormData();
    form.append("purpose", purpose);
    form.append("file", file);
    xhr.send(form);
  });
}

/** A blob: URL for a stored file's content (images, downloads), fetched with the key. */
const blobs = new Map();
export async function fileBlobUrl(fileId) {
  if (!blobs.has(fileId)) {
    const response = await call("GET", `files/${fileId}/content`, undefined, { raw: true });
    blobs.set(fileId, URL.createObjectURL(await response.blob()));
  }
  return blobs.get(fileId);
}

const names = new Map();
/** A file's name, or its id when it is gone (a deleted file, another project's id). */
export async function fileName(fileId) {
  if (!names.has(fileId)) {
    names.set(fileId, get(`files/${fileId}`).then((f) => f.filename, () => fileId));
  }
  return names.get(fileId);
}
