// Log viewer: the files in the log folder, the tail of one of them with a level and text
// filter (both applied by the server), and Clear. JSON lines are shown as time, level,
// message and the other fields; anything else verbatim.

import * as api from "./api.js";
import { confirmDialog } from "./dialogs.js";
import { formatBytes, formatTime, h, mount } from "./dom.js";

const LEVELS = ["", "error", "warn", "info", "debug"];
const FOLLOW_MS = 3000;

export class LogsPanel {
  constructor(root, notify) {
    this.root = root;
    this.notify = notify;
    this.files = [];
    this.file = "";
    this.timer = null;
    this.files_el = h("ul", { class: "log-files", "aria-label": "Log files" });
    this.lines_el = h("div", { class: "log-lines mono", "aria-live": "polite" });
    this.count = h("select", { id: "log-lines", "aria-label": "Lines", onchange: () => this.loadLines() },
      [100, 500, 2000, 10000].map((n) => h("option", { value: n }, `last ${n} lines`)));
    this.level = h("select", { id: "log-level", "aria-label": "Level", onchange: () => this.loadLines() },
      LEVELS.map((l) => h("option", { value: l }, l ? `${l} and worse` : "all levels")));
    this.query = h("input", { id: "log-search", type: "search", placeholder: "Search", "aria-label": "Search",
      onchange: () => this.loadLines() });
    this.follow = h("input", { type: "checkbox", id: "log-follow", onchange: () => this.syncFollow() });
    this.title = h("strong", { class: "mono" });
    this.clear = h("button", { type: "button", class: "ghost danger", id: "log-clear", onclick: () => this.clearFile() },
      "Clear");
  }

  render() {
    mount(this.root,
      h("div", { class: "panel-head" }, h("h2", {}, "Logs"), h("span", { class: "spacer" }),
        h("button", { type: "button", class: "ghost", onclick: () => this.refresh() }, "Refresh")),
      h("div", { class: "logs" },
        h("aside", {}, this.files_el),
        h("section", {},
          h("div", { class: "toolbar" }, this.title, h("span", { class: "spacer" }),
            this.count, this.level, this.query,
            h("label", { class: "check" }, this.follow, "Follow"), this.clear),
          this.lines_el)));
  }

  shown() {
    this.refresh();
    this.syncFollow();
  }

  hidden() {
    clearInterval(this.timer);
    this.timer = null;
  }

  syncFollow() {
    clearInterval(this.timer);
    this.timer = this.follow.checked ? setInterval(() => this.loadLines(), FOLLOW_MS) : null;
  }

  async refresh() {
    try {
      const files = await api.logFiles();
      this.files = Array.isArray(files) ? files : [];
    } catch (error) {
      this.files = [];
      mount(this.files_el, h("li", { class: "error" }, error.message));
      return;
    }
    if (!this.files.some((f) => f.name === this.file)) {
      // the newest server log first: it has every line, the routing log only requests
      this.file = (this.files.find((f) => f.name.startsWith("ccr-")) ?? this.files[0])?.name ?? "";
    }
    this.renderFiles();
    await this.loadLines();
  }

  renderFiles() {
    if (!this.files.length) {
      mount(this.files_el, h("li", { class: "muted" }, "No log files yet."));
      return;
    }
    mount(this.files_el, this.files.map((f) => h("li", {},
      h("button", { type: "button", class: f.name === this.file ? "file active" : "file",
        dataset: { file: f.name }, "aria-pressed": String(f.name === this.file),
        onclick: () => { this.file = f.name; this.renderFiles(); this.loadLines(); } },
      h("span", { class: "mono" }, f.name),
      h("small", { class: "muted" }, `${formatBytes(f.size)} · ${formatTime(f.lastModified)}`)))));
  }

  async loadLines() {
    this.title.textContent = this.file || "";
    this.clear.disabled = !this.file;
    if (!this.file) {
      mount(this.lines_el, h("p", { class: "muted" }, "Choose a log file."));
      return;
    }
    try {
      const lines = await api.logLines({ file: this.file, lines: this.count.value,
        level: this.level.value, q: this.query.value.trim() });
      const rows = Array.isArray(lines) ? lines : [];
      const stick = this.lines_el.scrollTop + this.lines_el.clientHeight >= this.lines_el.scrollHeight - 4;
      mount(this.lines_el, rows.length ? rows.map(renderLine) : h("p", { class: "muted" }, "No matching lines."));
      if (stick) this.lines_el.scrollTop = this.lines_el.scrollHeight;
    } catch (error) {
      mount(this.lines_el, h("p", { class: "error" }, error.message));
    }
  }

  async clearFile() {
    if (!this.file) return;
    const ok = await confirmDialog(`Clear ${this.file}? Its lines are deleted.`, { confirm: "Clear", danger: true });
    if (!ok) return;
    try {
      const result = await api.clearLog(this.file);
      this.notify.info(result?.message ?? `${this.file} cleared.`);
    } catch (error) {
      this.notify.error(`Could not clear ${this.file}`, [error.message]);
    }
    await this.refresh();
  }
}

const MESSAGE_KEYS = ["event", "msg", "message"];
const TIME_KEYS = ["timestamp", "time", "ts"];

function renderLine(line) {
  const text = typeof line === "string" ? line : JSON.stringify(line);
  let record = typeof line === "object" && line !== null ? line : null;
  if (!record) {
    try { record = JSON.parse(text); } catch { record = null; }
  }
  if (!record || typeof record !== "object" || Array.isArray(record)) {
    return h("div", { class: "log-line" }, text);
  }
  const take = (keys) => {
    for (const key of keys) if (key in record) { const value = record[key]; delete record[key]; return value; }
    return undefined;
  };
  const time = take(TIME_KEYS);
  const level = String(take(["level", "levelname"]) ?? "").toLowerCase();
  const message = take(MESSAGE_KEYS);
  const rest = Object.entries(record).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  return h("div", { class: `log-line level-${level || "none"}`, title: text },
    time !== undefined ? h("span", { class: "log-time" }, formatTime(time)) : null,
    level ? h("span", { class: "log-level" }, level) : null,
    message !== undefined ? h("span", { class: "log-msg" }, String(message)) : null,
    rest.length ? h("span", { class: "log-rest" }, rest.join(" ")) : null);
}
