// Usage: requests, tokens and cost over time per model or provider (uPlot charts from the
// usage ledger's GET /api/stats?group=&by=), and the table of totals below them.

import * as api from "./api.js";
import { field, formatTime, h, mount } from "./dom.js";
import uPlot from "./vendor/uPlot.esm.js";

const RANGES = [["24h", "Last 24 hours", 24], ["7d", "Last 7 days", 24 * 7], ["30d", "Last 30 days", 24 * 30]];
const CHARTS = [
  ["requests", "Requests", (c) => c.requests ?? 0],
  ["tokens", "Tokens (input + output)", (c) => (c.input_tokens ?? 0) + (c.output_tokens ?? 0)],
  ["cost", "Cost (USD)", (c) => c.cost_usd ?? 0],
];
const COLORS = ["#1f6feb", "#d4731c", "#1a7f37", "#8250df", "#cf222e", "#0a7ea4", "#9a6700", "#bf3989"];
// y-axis steps for counts: whole numbers only (uPlot would mark 0.5 requests)
const WHOLE_STEPS = [1, 2, 5].flatMap((n) => [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8].map((p) => n * p))
  .sort((a, b) => a - b);
const plural = (n, word) => `${num(n)} ${word}${n === 1 ? "" : "s"}`;
const num = (value) => (typeof value === "number" ? value.toLocaleString() : "—");
const usd = (value) => (typeof value === "number" ? `$${value.toFixed(value < 1 ? 4 : 2)}` : "—");

/** The label of a row or series: "provider · model", a provider, or "(not routed)". */
function label(row, by) {
  if (by === "model" && row.model) return row.provider ? `${row.provider} · ${row.model}` : String(row.model);
  return row.key ? String(row.key) : "(not routed)";
}

export class UsagePanel {
  constructor(root) {
    this.root = root;
    this.charts = [];
    this.range = h("select", { id: "usage-range", "aria-label": "Time range", onchange: () => this.refresh() },
      RANGES.map(([value, text]) => h("option", { value }, text)));
    this.group = h("select", { id: "usage-group", "aria-label": "Group by time", onchange: () => this.refresh() },
      h("option", { value: "hour" }, "per hour"), h("option", { value: "day" }, "per day"));
    this.by = h("select", { id: "usage-by", "aria-label": "Split by", onchange: () => this.refresh() },
      h("option", { value: "model" }, "by model"), h("option", { value: "provider" }, "by provider"));
    this.about = h("p", { class: "muted about", id: "usage-about" });
    this.plots = h("div", { class: "charts" });
    this.table = h("div", { class: "table-wrap" });
    this.resize = () => this.fit();
  }

  render() {
    mount(this.root,
      h("div", { class: "panel-head" }, h("h2", {}, "Usage"), h("span", { class: "spacer" }),
        h("button", { type: "button", class: "ghost", id: "usage-refresh", onclick: () => this.refresh() }, "Refresh")),
      h("div", { class: "toolbar wrap" }, field("Range", this.range), field("Time", this.group), field("Split", this.by)),
      this.about, this.plots, this.table);
  }

  shown() {
    window.addEventListener("resize", this.resize);
    this.refresh();
  }

  hidden() {
    window.removeEventListener("resize", this.resize);
  }

  async refresh() {
    const hours = RANGES.find(([value]) => value === this.range.value)?.[2] ?? 24;
    const until = new Date();
    const since = new Date(until.getTime() - hours * 3600 * 1000);
    const by = this.by.value;
    try {
      const [data, version] = await Promise.all([
        api.stats({ since: since.toISOString(), until: until.toISOString(), group: this.group.value, by }),
        api.version().catch(() => null)]);
      this.renderAbout(data, version);
      const span = [Math.floor(since.getTime() / 1000), Math.ceil(until.getTime() / 1000)];
      this.renderCharts(Array.isArray(data?.series) ? data.series : null, data?.rows ?? [], by, span);
      this.renderTable(Array.isArray(data?.rows) ? data.rows : (data?.models ?? []), by);
    } catch (error) {
      mount(this.plots, h("p", { class: "error", role: "alert" }, error.message));
      mount(this.table);
    }
  }

  renderAbout(data, version) {
    const parts = [];
    const total = data?.total;
    if (total) {
      parts.push(`${plural(total.requests, "request")}, ${plural(total.errors, "error")}, `
        + `${num(total.input_tokens)} tokens in, ${num(total.output_tokens)} out`);
      if (typeof total.cost_usd === "number") parts.push(`${usd(total.cost_usd)}`);
    }
    if (data?.since) parts.push(`since ${formatTime(data.since)}`);
    if (version && typeof version === "object") {
      parts.push(version.claude_code_version ? `Claude Code ${version.claude_code_version}`
        : "Claude Code not found on the PATH of ccr's service (set CLAUDE_PATH in Settings)");
    }
    this.about.textContent = parts.join(" · ");
  }

  /** One chart per metric; x = time buckets over the chosen range (`span`, epoch seconds: uPlot
   * would otherwise stretch a single bucket over years), one series per model or provider. */
  renderCharts(series, rows, by, span) {
    this.charts.forEach((chart) => chart.destroy());
    this.charts = [];
    if (series === null) {
      mount(this.plots, h("p", { class: "muted" }, "This ccr keeps no history over time: only the totals below."));
      return;
    }
    const buckets = [...new Set(series.map((s) => s.bucket))].sort();
    const keys = [...new Set(series.map((s) => s.key ?? ""))];
    const names = new Map(rows.map((row) => [row.key ?? "", label(row, by)]));
    const x = buckets.map((b) => Math.floor(new Date(b).getTime() / 1000));
    const boxes = CHARTS.map(([id, title, value]) => {
      const lines = keys.map((key) => buckets.map((bucket) => {
        const point = series.find((s) => s.bucket === bucket && (s.key ?? "") === key);
        return point ? value(point) : 0;
      }));
      const total = lines.flat().reduce((a, b) => a + b, 0);
      const box = h("figure", { class: "chart", id: `chart-${id}`, dataset: { total: String(total) },
        role: "img", "aria-label": `${title}: ${id === "cost" ? usd(total) : num(total)} in this range` },
      h("figcaption", {}, title));
      box.plotData = [x, ...lines];
      box.plotSeries = keys.map((key, i) => ({ label: names.get(key) ?? (key || "(not routed)"),
        stroke: COLORS[i % COLORS.length], fill: `${COLORS[i % COLORS.length]}22`, width: 2,
        points: { show: true, size: 5 } }));
      box.plotTitle = title;
      box.plotWhole = id !== "cost";
      return box;
    });
    mount(this.plots, buckets.length ? boxes : h("p", { class: "empty" }, "No requests in this range."));
    if (!buckets.length) return;
    for (const box of boxes) {
      const options = { width: this.width(), height: 200, series: [{}, ...box.plotSeries],
        axes: [{}, { size: 60, ...(box.plotWhole ? { incrs: WHOLE_STEPS } : {}) }], legend: { live: false }, cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true, range: () => span } } };
      this.charts.push(new uPlot(options, box.plotData, box));
    }
  }

  width() {
    return Math.max(260, Math.min(1100, this.plots.clientWidth || this.root.clientWidth || 600) - 8);
  }

  fit() {
    for (const chart of this.charts) chart.setSize({ width: this.width(), height: 200 });
  }

  renderTable(rows, by) {
    if (!rows.length) {
      mount(this.table, h("p", { class: "empty" }, "No requests in this range."));
      return;
    }
    const errors = (value) => (value && typeof value === "object"
      ? Object.values(value).reduce((a, b) => a + b, 0) : value);
    mount(this.table, h("table", { class: "table stats", id: "usage-table" },
      h("thead", {}, h("tr", {}, [by === "model" ? "Model" : "Provider", "Requests", "Errors", "Fallbacks",
        "Input tokens", "Output tokens", "Cache read", "Cost", "Latency (avg)"].map((text, i) =>
        h("th", { scope: "col", class: i ? "n" : null }, text)))),
      h("tbody", {}, rows.map((row) => h("tr", { dataset: { key: String(row.key ?? "") } },
        h("th", { scope: "row", class: "mono" }, label(row, by)),
        h("td", { class: "n" }, num(row.requests)),
        h("td", { class: "n" }, num(errors(row.errors))),
        h("td", { class: "n" }, num(row.fallbacks)),
        h("td", { class: "n" }, num(row.input_tokens)),
        h("td", { class: "n" }, num(row.output_tokens)),
        h("td", { class: "n" }, num(row.cache_read_tokens)),
        h("td", { class: "n" }, usd(row.cost_usd)),
        h("td", { class: "n" }, typeof row.latency_ms_avg === "number" ? `${Math.round(row.latency_ms_avg)} ms` : "—"))))));
  }
}
