// Transformers: the built-in catalogue from GET /api/transformers (read only), and the
// custom plugins of the config (`transformers: [{path, options}]`), which can be edited.

import * as api from "./api.js";
import { field, h, mount, pretty } from "./dom.js";

export class CataloguePanel {
  constructor(root, store, notify) {
    this.root = root;
    this.store = store;
    this.notify = notify;
    this.catalogue = null;
  }

  /** Load the catalogue once; fills the name suggestions of every chain editor. */
  async load() {
    try {
      const data = await api.transformers();
      this.catalogue = Array.isArray(data?.transformers) ? data.transformers : [];
    } catch (error) {
      this.catalogue = null;
      this.error = error.message;
    }
    const names = (this.catalogue ?? []).map((t) => t.name).filter(Boolean);
    mount(document.getElementById("transformer-names"), names.map((name) => h("option", { value: name })));
    return this.catalogue;
  }

  render() {
    mount(this.root,
      h("div", { class: "panel-head" }, h("h2", {}, "Transformers"),
        h("span", { class: "spacer" }),
        h("button", { type: "button", class: "ghost", onclick: async () => { await this.load(); this.render(); } },
          "Refresh")),
      h("p", { class: "hint" }, "Use these names in a provider's transformer chain: "
        + '"use": ["name", ["name", {options}]]. A dialect speaks a provider\'s API (one per chain, '
        + "openai when none is given); adjusters tweak requests and replies around it."),
      this.catalogueTable(),
      h("h3", {}, "Custom plugins"),
      this.pluginsEditor());
  }

  catalogueTable() {
    if (this.catalogue === null) {
      return h("p", { class: "error" }, `The catalogue could not be loaded: ${this.error ?? "not loaded yet"}`);
    }
    return h("div", { class: "table-wrap" }, h("table", { class: "table catalogue" },
      h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Kind"), h("th", {}, "Origin"), h("th", {}, "Endpoint"),
        h("th", {}, "Options"))),
      h("tbody", {}, this.catalogue.map((t) => h("tr", { dataset: { transformer: String(t.name) } },
        h("td", { class: "mono" }, String(t.name)),
        h("td", {}, t.dialect === undefined ? "" : t.dialect ? "dialect" : "adjuster"),
        h("td", {}, String(t.origin ?? "")),
        h("td", { class: "mono" }, t.endpoint ? String(t.endpoint) : "—"),
        h("td", {}, describeOptions(t.options_schema)))))));
  }

  pluginsEditor() {
    const cfg = this.store.config;
    const plugins = Array.isArray(cfg.transformers) ? cfg.transformers : [];
    const path = h("input", { placeholder: "~/.claude-code-router/plugins/my_transformer.py", spellcheck: "false" });
    const options = h("textarea", { class: "mono", rows: 2, placeholder: '{"key": "value"} (optional)',
      spellcheck: "false" });
    const add = () => {
      const entry = { path: path.value.trim() };
      if (!entry.path) return this.notify.error("A plugin needs a path", []);
      if (options.value.trim()) {
        try { entry.options = JSON.parse(options.value); } catch (error) {
          return this.notify.error("Plugin options are not valid JSON", [error.message]);
        }
      }
      if (!Array.isArray(cfg.transformers)) cfg.transformers = [];
      cfg.transformers.push(entry);
      this.store.edited();
      this.render();
    };
    return h("div", { class: "plugins" },
      plugins.length
        ? h("ul", { class: "plain" }, plugins.map((plugin, index) => h("li", {},
          h("code", {}, String(plugin?.path ?? pretty(plugin))),
          plugin?.options ? h("code", { class: "muted" }, ` ${JSON.stringify(plugin.options)}`) : null,
          h("button", { type: "button", class: "ghost small danger", onclick: () => {
            plugins.splice(index, 1);
            this.store.edited();
            this.render();
          } }, "Remove"))))
        : h("p", { class: "muted" }, "None. A plugin is a Python file whose Transformer classes become usable by name."),
      h("div", { class: "form-grid" }, field("Path", path), field("Options (JSON)", options)),
      h("button", { type: "button", class: "ghost", onclick: add }, "+ Add plugin"));
  }
}

function describeOptions(schema) {
  const properties = schema?.properties;
  if (properties && typeof properties === "object" && Object.keys(properties).length) {
    return h("ul", { class: "plain options" }, Object.entries(properties).map(([name, spec]) =>
      h("li", {}, h("code", {}, name),
        spec?.type ? h("span", { class: "muted" }, ` (${[].concat(spec.type).join(" | ")})`) : null,
        spec?.description ? ` ${spec.description}` : null,
        spec?.default !== undefined ? h("span", { class: "muted" }, ` default ${JSON.stringify(spec.default)}`) : null)));
  }
  if (schema && typeof schema === "object" && Object.keys(schema).length && !schema.properties) {
    return h("details", {}, h("summary", {}, "schema"), h("pre", { class: "mono" }, pretty(schema)));
  }
  return h("span", { class: "muted" }, "none");
}
