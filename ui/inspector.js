// Inspector: the last requests with the body the client sent, the body ccr sent to the
// provider, and the reply (secrets redacted by the server). Opt-in: INSPECTOR in Settings.

import * as api from "./api.js";
import { confirmDialog } from "./dialogs.js";
import { formatBytes, formatTime, h, mount } from "./dom.js";

const BODIES = [["client_body", "Client sent"], ["provider_body", "Sent to the provider"], ["reply", "Reply"]];

export class InspectorPanel {
  constructor(root, notify) {
    this.root = root;
    this.notify = notify;
    this.entries = [];
    this.selected = null;
    this.status = h("p", { class: "muted", id: "inspector-status" });
    this.list = h("ul", { class: "inspector-list", id: "inspector-list", "aria-label": "Recorded requests" });
    this.detail = h("section", { class: "inspector-detail", id: "inspector-detail", "aria-live": "polite" });
  }

  render() {
    mount(this.root,
      h("div", { class: "panel-head" }, h("h2", {}, "Inspector"), h("span", { class: "spacer" }),
        h("button", { type: "button", class: "ghost", id: "inspector-refresh", onclick: () => this.refresh() }, "Refresh"),
        h("button", { type: "button", class: "ghost danger", id: "inspector-clear", onclick: () => this.clear() }, "Clear")),
      this.status,
      h("div", { class: "inspector" }, h("aside", {}, this.list), this.detail));
  }

  shown() {
    this.refresh();
  }

  async refresh() {
    let answer;
    try {
      answer = await api.inspector();
    } catch (error) {
      mount(this.list, h("li", { class: "error" }, error.message));
      return;
    }
    this.entries = Array.isArray(answer?.entries) ? answer.entries : [];
    this.status.textContent = answer?.enabled
      ? `Keeping the last ${answer.max_requests} requests, at most ${formatBytes(answer.max_bytes)} of bodies `
        + `(${formatBytes(answer.bytes ?? 0)} now). Keys and tokens are redacted.`
      : "The inspector is off. Turn on INSPECTOR in Settings, then Save and restart, to keep the last requests here.";
    if (!this.entries.length) {
      mount(this.list, h("li", { class: "muted" }, "No requests recorded."));
      mount(this.detail);
      return;
    }
    mount(this.list, this.entries.map((entry) => h("li", {},
      h("button", { type: "button", class: entry.id === this.selected ? "file active" : "file",
        dataset: { entry: String(entry.id) }, "aria-pressed": String(entry.id === this.selected),
        "aria-label": `Request ${entry.request_id} to ${entry.provider} ${entry.model}, status ${entry.status}`,
        onclick: () => this.open(entry.id) },
      h("span", { class: "mono" }, `${entry.status} · ${entry.provider || "—"},${entry.model || "—"}`),
      h("small", { class: "muted" }, `${formatTime(entry.started_at * 1000)} · ${entry.front}`
        + `${entry.stream ? " · stream" : ""} · ${Math.round(entry.latency_ms ?? 0)} ms`)))));
    if (this.selected === null || !this.entries.some((e) => e.id === this.selected)) this.open(this.entries[0].id);
  }

  async open(id) {
    this.selected = id;
    for (const button of this.list.querySelectorAll("[data-entry]")) {
      const on = Number(button.dataset.entry) === id;
      button.classList.toggle("active", on);
      button.setAttribute("aria-pressed", String(on));
    }
    try {
      const entry = await api.inspectorEntry(id);
      const facts = [["Request", entry.request_id], ["Route", `${entry.provider},${entry.model} (${entry.route_reason || "—"})`],
        ["Status", entry.error ? `${entry.status}: ${entry.error}` : entry.status],
        ["Tokens", `${entry.input_tokens ?? 0} in, ${entry.output_tokens ?? 0} out`],
        ["Attempts", (entry.attempts ?? []).map((a) => `${a.provider},${a.model} → ${a.status ?? a.error ?? "?"}`).join("; ") || "—"]];
      mount(this.detail,
        h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", { class: "mono" }, String(v))])),
        entry.truncated ? h("p", { class: "muted" }, "Some bodies were cut to fit INSPECTOR_MAX_BYTES.") : null,
        BODIES.map(([key, title]) => h("details", { open: true, class: "body", dataset: { body: key } },
          h("summary", {}, title),
          h("pre", { class: "mono", tabindex: "0", "aria-label": title }, entry[key] || "(empty)"))));
    } catch (error) {
      mount(this.detail, h("p", { class: "error" }, error.message));
    }
  }

  async clear() {
    if (!(await confirmDialog("Forget every recorded request?", { confirm: "Clear", danger: true }))) return;
    try {
      const { cleared } = await api.clearInspector();
      this.notify.info(`${cleared} recorded requests forgotten.`);
    } catch (error) {
      this.notify.error("Could not clear the inspector", [error.message]);
    }
    this.selected = null;
    await this.refresh();
  }
}
