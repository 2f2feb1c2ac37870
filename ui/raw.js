// The whole config as JSON. "Apply" replaces the draft (so the other tabs show it); Save
// applies pending edits first. A save writes plain JSON; the
// hand-written original is kept as config.json.original.

import { h, mount, pretty } from "./dom.js";

export class RawPanel {
  constructor(root, store, notify) {
    this.root = root;
    this.store = store;
    this.notify = notify;
    this.text = h("textarea", { id: "raw-json", class: "mono raw", spellcheck: "false",
      "aria-label": "Config as JSON", oninput: () => { this.touched = true; this.check(); } });
    this.touched = false; // typed into since the last render: only then can the text be "pending"
    this.status = h("p", { class: "raw-status", role: "status" });
  }

  render() {
    this.touched = false;
    this.text.value = pretty(this.store.config);
    this.check();
    mount(this.root,
      h("div", { class: "panel-head" }, h("h2", {}, "Raw JSON"),
        h("span", { class: "spacer" }),
        h("button", { type: "button", class: "ghost", onclick: () => this.render() }, "Revert"),
        h("button", { type: "button", class: "ghost", onclick: () => this.format() }, "Format"),
        h("button", { type: "button", id: "raw-apply", onclick: () => this.apply() }, "Apply to form")),
      h("p", { class: "hint" }, "The whole config file. $VAR references stay references. "
        + "A save writes plain JSON: your hand-written file is kept as config.json.original, earlier versions as backups."),
      this.text, this.status);
  }

  parse() {
    const value = JSON.parse(this.text.value);
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new Error("the config must be a JSON object { ... }");
    }
    return value;
  }

  check() {
    try {
      this.parse();
      this.status.textContent = this.pending ? "Edited: Apply or Save to use it." : "";
      this.status.className = "raw-status";
      return true;
    } catch (error) {
      this.status.textContent = `Not valid JSON: ${error.message}`;
      this.status.className = "raw-status error";
      return false;
    }
  }

  get pending() {
    return this.touched && this.text.value.trim() !== pretty(this.store.config).trim();
  }

  format() {
    if (this.check()) this.text.value = pretty(this.parse());
  }

  /** Use the editor's text as the draft; false (with the reason shown) when it is not JSON. */
  apply() {
    if (!this.check()) {
      this.notify.error("The raw JSON is not valid", [this.status.textContent]);
      return false;
    }
    if (this.pending) this.store.replace(this.parse());
    this.check();
    return true;
  }
}
