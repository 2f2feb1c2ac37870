// Usage since start, per provider and model: requests, errors by status, tokens, latency.

import * as api from "./api.js";
import { formatTime, h, mount } from "./dom.js";

const ms = (value) => (typeof value === "number" ? `${Math.round(value)} ms` : "—");
const num = (value) => (typeof value === "number" ? value.toLocaleString() : "—");

export class StatsPanel {
  constructor(root) {
    this.root = root;
    this.body = h("div", {});
    this.about = h("p", { class: "muted about" });
  }

  render() {
    mount(this.root,
      h("div", { class: "panel-head" }, h("h2", {}, "Usage"), h("span", { class: "spacer" }),
        h("button", { type: "button", class: "ghost", onclick: () => this.refresh() }, "Refresh")),
      this.about, this.body);
  }

  shown() {
    this.refresh();
  }

  async refresh() {
    try {
      const [data, version] = await Promise.all([api.stats(), api.version().catch(() => null)]);
      this.renderAbout(version, data);
      const rows = Array.isArray(data) ? data : (data?.models ?? data?.rows ?? []);
      this.renderRows(Array.isArray(rows) ? rows : []);
    } catch (error) {
      mount(this.body, h("p", { class: "error" }, error.message));
    }
  }

  renderAbout(version, data) {
    const parts = [];
    if (data?.since) parts.push(`since ${formatTime(data.since)}`);
    const total = data?.total;
    if (total) parts.push(`${num(total.requests)} requests, ${num(total.errors)} errors, `
      + `${num(total.input_tokens)} tokens in, ${num(total.output_tokens)} out`);
    if (!version || typeof version !== "object") { this.about.textContent = parts.join(" · "); return; }
    const ccr = version.api_version ?? version.version;
    if (ccr) parts.push(`ccr ${ccr}`);
    if ("claude_code_version" in version) parts.push(version.claude_code_version ? `Claude Code ${version.claude_code_version}`
      : "Claude Code not found on the PATH of ccr's service (set CLAUDE_PATH in Settings)");
    this.about.textContent = parts.join(" · ");
  }

  renderRows(rows) {
    if (!rows.length) {
      mount(this.body, h("p", { class: "empty" }, "No requests since ccr started."));
      return;
    }
    const errors = (value) => {
      if (!value || typeof value !== "object") return num(value);
      const entries = Object.entries(value);
      return entries.length ? entries.map(([status, n]) => `${status}×${n}`).join(", ") : "0";
    };
    mount(this.body, h("table", { class: "table stats" },
      h("thead", {}, h("tr", {}, ["Provider", "Model", "Requests", "Errors", "Input tokens", "Output tokens",
        "Cache read", "Latency p50 / p99", "First byte p50 / p99"].map((label) => h("th", {}, label)))),
      h("tbody", {}, rows.map((row) => h("tr", { dataset: { provider: String(row.provider ?? "") } },
        h("td", {}, row.provider ? String(row.provider) : "(not routed)"),
        h("td", { class: "mono" }, row.model ? String(row.model) : "—"),
        h("td", { class: "n" }, num(row.requests)),
        h("td", { class: "n" }, errors(row.errors)),
        h("td", { class: "n" }, num(row.input_tokens)),
        h("td", { class: "n" }, num(row.output_tokens)),
        h("td", { class: "n" }, num(row.cache_read_tokens)),
        h("td", { class: "n" }, `${ms(row.latency_ms?.p50)} / ${ms(row.latency_ms?.p99)}`),
        h("td", { class: "n" }, `${ms(row.ttfb_ms?.p50)} / ${ms(row.ttfb_ms?.p99)}`))))));
  }
}
