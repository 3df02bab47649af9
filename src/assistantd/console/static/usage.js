// Usage: the project's tokens per day and per assistant (from its runs), as bar charts drawn
// in SVG, with the figures in a table too.
import { call } from "./api.js";
import { h, show, svg, table } from "./ui.js";

const CONSOLE_API = new URL("api/", location.href);

function dayChart(days) {
  const width = 720, height = 220, pad = 28;
  const top = Math.max(1, ...days.map((d) => d.total_tokens));
  const step = (width - pad) / days.length;
  const bars = days.map((d, i) => {
    const prompt = (d.prompt_tokens / top) * (height - pad);
    const completion = (d.completion_tokens / top) * (height - pad);
    const x = pad + i * step + 1;
    return svg("g", {},
      svg("title", {}, document.createTextNode(`${d.date}: ${d.prompt_tokens} prompt + ${d.completion_tokens} completion tokens, ${d.runs} runs`)),
      svg("rect", { x, y: height - pad - prompt, width: Math.max(step - 2, 1), height: prompt, class: "bar-prompt" }),
      svg("rect", { x, y: height - pad - prompt - completion, width: Math.max(step - 2, 1), height: completion, class: "bar-completion" }));
  });
  const labels = days.filter((_, i) => i % Math.ceil(days.length / 6) === 0 || i === days.length - 1).map((d) => {
    const i = days.indexOf(d);
    const last = i === days.length - 1;
    const x = last ? width : pad + i * step + step / 2;
    return svg("text", { x, y: height - 8, "text-anchor": last ? "end" : "middle", class: "axis" }, document.createTextNode(d.date.slice(5)));
  });
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Tokens per day", class: "chart", id: "usage-chart" },
    svg("text", { x: 2, y: 12, class: "axis" }, document.createTextNode(String(top))),
    svg("line", { x1: pad, y1: height - pad, x2: width, y2: height - pad, class: "baseline" }),
    ...bars, ...labels);
}

export async function usageView() {
  const data = await call("GET", "usage?days=30", undefined, { base: CONSOLE_API });
  const total = data.days.reduce((n, d) => n + d.total_tokens, 0);
  const top = Math.max(1, ...data.assistants.map((a) => a.total_tokens));
  show(
    h("h1", {}, "Usage"),
    h("p", {}, h("strong", { id: "usage-total" }, total.toLocaleString()), " tokens in the last 30 days, in ",
      data.days.reduce((n, d) => n + d.runs, 0), " runs."),
    h("section", { class: "card" }, h("h2", {}, "Tokens per day"), dayChart(data.days),
      h("p", { class: "legend" }, h("span", { class: "key prompt" }), " prompt ", h("span", { class: "key completion" }), " completion")),
    h("section", { class: "card" }, h("h2", {}, "Tokens per assistant"),
      table(["Assistant", "Runs", "Tokens", ""], data.assistants.map((a) => h("tr", {},
        h("td", {}, a.deleted ? `${a.assistant_id} (deleted)` : h("a", { href: `#/assistants/${a.assistant_id}` }, a.name || a.assistant_id)),
        h("td", {}, a.runs), h("td", {}, a.total_tokens.toLocaleString()),
        h("td", { class: "meter-cell" }, h("meter", { min: 0, max: top, value: a.total_tokens, "aria-label": "share" })))), "No runs yet.")));
}
