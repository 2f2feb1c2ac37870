// Router: which provider,model serves which kind of request. Only the keys shown here are
// written; other Router keys stay as they are. A route written as a list (its fallbacks after
// the first entry, see docs/fallback.md) shows its first entry; changing it keeps the rest.

import { field, h, mount } from "./dom.js";

const ROUTES = [
  ["default", "Default", "Every request no other rule picks."],
  ["background", "Background", "Claude Haiku requests (Claude Code's small, quick tasks)."],
  ["think", "Think", "Requests with an explicit thinking budget."],
  ["longContext", "Long context", "Requests over the long-context threshold."],
  ["webSearch", "Web search", "Requests that carry a web_search tool."],
  ["image", "Image", "Requests with images."],
];
const KNOWN = new Set([...ROUTES.map(([key]) => key), "longContextThreshold"]);

export class RouterPanel {
  constructor(root, store) {
    this.root = root;
    this.store = store;
  }

  /** Drawn anew each time the tab opens: providers added or deleted since are offered or gone. */
  shown() {
    this.render();
  }

  render() {
    const router = this.store.router();
    const choices = this.store.routeChoices;
    const others = Object.keys(router).filter((key) => !KNOWN.has(key));
    mount(this.root,
      h("div", { class: "panel-head" }, h("h2", {}, "Router")),
      choices.length === 0
        ? h("p", { class: "empty" }, "Add a provider with at least one model first; its models appear here.")
        : null,
      h("div", { class: "form-grid" },
        ROUTES.map(([key, label, hint]) => field(label, this.select(key, router[key], choices),
          [hint, this.fallbacks(key, router[key])].filter(Boolean).join(" "))),
        field("Long-context threshold (tokens)", this.threshold(router.longContextThreshold),
          "Requests with more input tokens than this go to Long context (default 60000).")),
      others.length
        ? h("p", { class: "kept" }, "Other Router keys, kept as they are: ",
          others.map((key, i) => [i ? ", " : "", h("code", {}, key)]))
        : null);
  }

  /** "Falls back to …": the rest of a Router list, then the top-level `fallback` entry. */
  fallbacks(key, current) {
    const table = this.store.config.fallback;
    const extra = table && typeof table === "object" && Array.isArray(table[key]) ? table[key] : [];
    const rest = [...(Array.isArray(current) ? current.slice(1) : []), ...extra].map(String);
    return rest.length ? `Falls back to ${rest.map((r) => r.replace(",", " · ")).join(", then ")}.` : "";
  }

  select(key, value, choices) {
    const list = Array.isArray(value) ? value : null;
    const current = list ? list[0] : value;
    const options = [h("option", { value: "" }, key === "default" ? "— choose a model —" : "— not set —")];
    const known = new Set(choices);
    if (typeof current === "string" && current && !known.has(current)) {
      options.push(h("option", { value: current }, `${current} (not a configured model)`));
    }
    for (const choice of choices) options.push(h("option", { value: choice }, choice.replace(",", " · ")));
    const select = h("select", { id: `route-${key}`, name: key,
      onchange: () => this.store.setKey(this.store.router({ create: true }), key,
        list && select.value ? [select.value, ...list.slice(1)] : select.value) }, options);
    select.value = typeof current === "string" ? current : "";
    return select;
  }

  threshold(current) {
    const input = h("input", { id: "route-longContextThreshold", inputmode: "numeric", placeholder: "60000",
      value: current === undefined || current === null ? "" : String(current),
      oninput: () => {
        const text = input.value.trim();
        const value = /^\d+$/.test(text) ? Number(text) : text;
        this.store.setKey(this.store.router({ create: true }), "longContextThreshold", value);
      } });
    return input;
  }
}
