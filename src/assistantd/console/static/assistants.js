// Assistants: the list, and one form to create or edit (instructions, model, tools, tool
// resources, temperature, response format). Only fields the API knows are sent.
import { all, del, get, post } from "./api.js";
import { errorBox, field, h, show, table, toast, when } from "./ui.js";

export async function assistantsView() {
  const assistants = await all("assistants?order=desc");
  const rows = assistants.map((a) => h("tr", {},
    h("td", {}, h("a", { href: `#/assistants/${a.id}` }, a.name || "(unnamed)")),
    h("td", {}, a.model),
    h("td", {}, a.tools.map((t) => t.type === "function" ? t.function.name : t.type).join(", ")),
    h("td", {}, h("code", {}, a.id)),
    h("td", {}, when(a.created_at))));
  show(
    h("div", { class: "bar" }, h("h1", {}, "Assistants"),
      h("a", { class: "button primary", href: "#/assistants/new" }, "New assistant")),
    table(["Name", "Model", "Tools", "ID", "Created"], rows, "No assistants yet: make one."));
}

const FORMATS = { auto: "auto", text: { type: "text" }, json_object: { type: "json_object" } };

export async function assistantView(id) {
  const existing = id === "new" ? null : await get(`assistants/${id}`);
  const a = existing || { name: "", model: "gpt-4o", instructions: "", description: "", tools: [], tool_resources: {}, temperature: null, response_format: "auto" };
  const has = (type) => a.tools.some((t) => t.type === type);
  const functions = a.tools.filter((t) => t.type === "function").map((t) => t.function);
  const input = (name, value, extra = {}) => h("input", { name, value: value ?? "", ...extra });
  const name = input("name", a.name, { maxlength: 256 });
  const model = input("model", a.model, { required: true });
  const description = input("description", a.description, { maxlength: 512 });
  const instructions = h("textarea", { name: "instructions", rows: 6 }, a.instructions || "");
  const code = h("input", { type: "checkbox", name: "code_interpreter", checked: has("code_interpreter") });
  const search = h("input", { type: "checkbox", name: "file_search", checked: has("file_search") });
  const fns = h("textarea", { name: "functions", rows: 6, spellcheck: false, class: "mono" },
    functions.length ? JSON.stringify(functions, null, 2) : "");
  const codeFiles = input("code_files", (a.tool_resources?.code_interpreter?.file_ids || []).join(", "));
  const stores = input("vector_store_ids", (a.tool_resources?.file_search?.vector_store_ids || []).join(", "));
  const temperature = input("temperature", a.temperature ?? "", { type: "number", min: 0, max: 2, step: 0.1 });
  const format = h("select", { name: "response_format" }, Object.keys(FORMATS).map((k) =>
    h("option", { value: k, selected: (a.response_format?.type || a.response_format) === k }, k)));
  const status = h("div", { "aria-live": "polite" });
  const ids = (text) => text.split(/[\s,]+/).filter(Boolean);

  async function save(event) {
    event.preventDefault();
    status.replaceChildren();
    let tools;
    try {
      tools = [
        ...(code.checked ? [{ type: "code_interpreter" }] : []),
        ...(search.checked ? [{ type: "file_search" }] : []),
        ...(fns.value.trim() ? JSON.parse(fns.value).map((f) => ({ type: "function", function: f })) : []),
      ];
    } catch (error) {
      status.append(errorBox(error, "Functions must be a JSON array of function definitions"));
      return;
    }
    const body = {
      model: model.value.trim(),
      name: name.value.trim() || null,
      description: description.value.trim() || null,
      instructions: instructions.value || null,
      tools,
      tool_resources: {
        code_interpreter: { file_ids: ids(codeFiles.value) },
        file_search: { vector_store_ids: ids(stores.value) },
      },
      response_format: FORMATS[format.value],
    };
    if (temperature.value !== "") body.temperature = Number(temperature.value);
    else if (existing) body.temperature = null;
    try {
      const saved = await post(existing ? `assistants/${existing.id}` : "assistants", body);
      toast(existing ? "Assistant saved" : "Assistant created");
      location.hash = `#/assistants/${saved.id}`;
      if (existing) assistantView(saved.id);
    } catch (error) {
      status.append(errorBox(error, "Not saved"));
    }
  }

  const remove = existing && h("button", { type: "button", class: "danger", onclick: async (event) => {
    const button = event.currentTarget;
    if (button.dataset.armed !== "1") {
      button.dataset.armed = "1";
      button.textContent = "Really delete?";
      return;
    }
    try {
      await del(`assistants/${existing.id}`);
      toast("Assistant deleted");
      location.hash = "#/assistants";
    } catch (error) {
      status.append(errorBox(error, "Not deleted"));
    }
  } }, "Delete");

  show(
    h("div", { class: "bar" }, h("h1", {}, existing ? (a.name || "Assistant") : "New assistant"),
      existing && h("a", { class: "button", href: `#/playground/${existing.id}` }, "Try in playground")),
    existing && h("p", { class: "muted" }, h("code", {}, existing.id), " · created ", when(existing.created_at)),
    h("form", { class: "card grid", id: "assistant-form", onsubmit: save },
      field("Name", name), field("Model", model), field("Description", description),
      field("Temperature", temperature, "0–2; empty for the model's default"),
      h("div", { class: "field wide" }, h("label", { for: "instructions" }, "Instructions"), Object.assign(instructions, { id: "instructions" })),
      h("fieldset", { class: "wide" }, h("legend", {}, "Tools"),
        h("label", { class: "check" }, code, " Code interpreter"),
        h("label", { class: "check" }, search, " File search"),
        field("Functions (JSON array of {name, description, parameters})", fns)),
      field("Code interpreter file IDs", codeFiles, "comma-separated file-… ids"),
      field("File search vector store IDs", stores, "comma-separated vs_… ids"),
      field("Response format", format),
      h("div", { class: "actions wide" }, h("button", { type: "submit", class: "primary" }, existing ? "Save" : "Create"), remove),
      h("div", { class: "wide" }, status)));
}
