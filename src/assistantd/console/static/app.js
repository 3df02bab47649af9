// The console's shell: sign-in, the hash router, and the error page every view falls back to.
import { ApiError, get, session } from "./api.js";
import { errorBox, h, main, show } from "./ui.js";
import { assistantsView, assistantView } from "./assistants.js";
import { threadsView, threadView } from "./threads.js";
import { playgroundView } from "./playground.js";
import { filesView, storesView, storeView } from "./files.js";
import { usageView } from "./usage.js";

const routes = [
  [/^#\/assistants$/, assistantsView],
  [/^#\/assistants\/(new|[\w-]+)$/, assistantView],
  [/^#\/threads$/, threadsView],
  [/^#\/threads\/([\w-]+)$/, threadView],
  [/^#\/playground(?:\/([\w-]+))?$/, playgroundView],
  [/^#\/files$/, filesView],
  [/^#\/vector-stores$/, storesView],
  [/^#\/vector-stores\/([\w-]+)$/, storeView],
  [/^#\/usage$/, usageView],
];

let current = null; // the view's cleanup (timers, streams), run when leaving it

async function route() {
  if (current) { current(); current = null; }
  const nav = document.getElementById("nav");
  if (!session.key) {
    nav.hidden = true;
    return signIn();
  }
  nav.hidden = false;
  const hash = location.hash || "#/assistants";
  for (const link of nav.querySelectorAll("a")) {
    const active = hash.startsWith(link.getAttribute("href"));
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const found = routes.find(([pattern]) => pattern.test(hash));
  if (!found) return show(h("h1", {}, "Not found"), h("p", {}, "No such page. ", h("a", { href: "#/assistants" }, "Go to assistants")));
  show(h("p", { class: "loading" }, "Loading…"));
  try {
    const cleanup = await found[1](...hash.match(found[0]).slice(1));
    if (typeof cleanup === "function") current = cleanup;
  } catch (error) {
    failed(error);
  }
}

export function failed(error) {
  if (error instanceof ApiError && error.status === 401) {
    session.key = null;
    return signIn("Your API key was not accepted: " + error.message);
  }
  const hint = error.status === 404 ? "Not found — it was deleted, or belongs to another project" : "The request failed";
  show(h("h1", {}, "Something went wrong"), errorBox(error, hint),
    h("p", {}, h("a", { href: "#/assistants" }, "Back to assistants")));
}

function signIn(message) {
  const key = h("input", { type: "password", name: "key", autocomplete: "off", required: true, placeholder: "sk-…" });
  const error = h("div", { "aria-live": "assertive" }, message && h("div", { class: "error", role: "alert" }, message));
  const form = h("form", { class: "card narrow", id: "sign-in", onsubmit: async (event) => {
    event.preventDefault();
    session.key = key.value.trim();
    try {
      await get("assistants?limit=1");
      if (!location.hash || location.hash === "#/sign-in") location.hash = "#/assistants";
      else route();
    } catch (failure) {
      session.key = null;
      error.replaceChildren(errorBox(failure, failure.status === 401 ? "Sign-in failed" : "The server did not answer"));
    }
  } },
  h("h1", {}, "Sign in"),
  h("p", {}, "Use an API key of your project. It stays in this browser tab only and is sent to this server alone."),
  h("label", { for: "key-input" }, "API key"), Object.assign(key, { id: "key-input" }),
  error,
  h("button", { type: "submit", class: "primary" }, "Sign in"));
  show(form);
  key.focus();
}

document.getElementById("sign-out").addEventListener("click", () => {
  session.key = null;
  location.hash = "#/sign-in";
  route();
});
window.addEventListener("hashchange", route);
window.addEventListener("unhandledrejection", (event) => failed(event.reason));
route();
main().focus({ preventScroll: true });
