// Providers: a card per provider, and a dialog to add or edit one. Edits change only the
// fields the form shows; any other key of the provider object is kept as it was.

import { chainEditor, describeChain } from "./chain.js";
import { confirmDialog, modal } from "./dialogs.js";
import { field, h, maskKey, mount, pretty, secretInput } from "./dom.js";

export class ProvidersPanel {
  constructor(root, store, notify) {
    this.root = root;
    this.store = store;
    this.notify = notify;
    this.filter = "";
  }

  render() {
    const providers = this.store.providers();
    this.list = h("div", { class: "cards" });
    mount(this.root,
      h("div", { class: "panel-head" },
        h("h2", {}, "Providers ", h("span", { class: "count" }, String(providers.length))),
        h("input", { type: "search", class: "filter", placeholder: "Filter by name or model",
          "aria-label": "Filter providers", value: this.filter,
          oninput: (event) => { this.filter = event.target.value; this.renderCards(); } }),
        h("button", { type: "button", class: "primary", id: "add-provider", onclick: () => this.edit(-1) },
          "+ Add provider")),
      providers.length === 0
        ? h("p", { class: "empty" }, "No providers yet. Add one (an OpenAI-compatible endpoint, "
          + "Anthropic, Ollama...), then choose it in Router and Save.")
        : this.list);
    this.renderCards();
  }

  renderCards() {
    const needle = this.filter.trim().toLowerCase();
    const shown = this.store.providers()
      .map((provider, index) => ({ provider, index }))
      .filter(({ provider }) => !needle || JSON.stringify([provider?.name, provider?.models])
        .toLowerCase().includes(needle));
    mount(this.list, shown.map(({ provider, index }) => this.card(provider, index)));
  }

  card(provider, index) {
    const p = provider && typeof provider === "object" ? provider : {};
    const models = Array.isArray(p.models) ? p.models : [];
    const transformer = p.transformer && typeof p.transformer === "object" ? p.transformer : {};
    const perModel = Object.entries(transformer).filter(([key]) => key !== "use");
    return h("article", { class: "card provider", dataset: { provider: String(p.name ?? "") } },
      h("header", {},
        h("h3", {}, String(p.name ?? "(unnamed)")),
        h("span", { class: "card-actions" },
          h("button", { type: "button", class: "ghost small", "data-action": "edit",
            onclick: () => this.edit(index) }, "Edit"),
          h("button", { type: "button", class: "ghost small danger", "data-action": "delete",
            onclick: () => this.remove(index) }, "Delete"))),
      h("dl", {},
        h("dt", {}, "URL"), h("dd", { class: "mono url", title: String(p.api_base_url ?? p.baseUrl ?? "") },
          String(p.api_base_url ?? p.baseUrl ?? "")),
        h("dt", {}, "API key"), h("dd", { class: "mono key" }, maskKey(p.api_key ?? p.api_keys ?? "")),
        h("dt", {}, "Models"),
        h("dd", { class: "chips" }, models.length ? models.map((m) => h("span", { class: "chip" }, String(m)))
          : h("span", { class: "muted" }, "none")),
        transformer.use?.length ? [h("dt", {}, "Transformers"),
          h("dd", { class: "mono" }, describeChain(transformer.use))] : null,
        perModel.map(([model, sub]) => [h("dt", {}, `↳ ${model}`),
          h("dd", { class: "mono" }, describeChain(sub?.use) || pretty(sub))])));
  }

  async remove(index) {
    const providers = this.store.providers();
    const name = providers[index]?.name ?? "(unnamed)";
    const used = Object.entries(this.store.router())
      .filter(([, route]) => typeof route === "string" && route.split(",")[0] === name)
      .map(([key]) => key);
    const warning = used.length ? ` Router still uses it for ${used.join(", ")}: change those before saving.` : "";
    if (!(await confirmDialog(`Delete provider "${name}"?${warning}`, { confirm: "Delete", danger: true }))) return;
    providers.splice(index, 1);
    this.store.edited();
    this.render();
    this.notify.info(`Provider "${name}" removed from the draft. Save to write the config file.`);
  }

  edit(index) {
    const providers = this.store.providers();
    const original = index >= 0 ? providers[index] : {};
    const form = new ProviderForm(original, providers.filter((_, i) => i !== index));
    const { close } = modal({
      title: index >= 0 ? `Edit provider "${original.name}"` : "Add provider",
      className: "provider-dialog",
      body: (done) => form.render(() => done(null), () => {
        const updated = form.result();
        if (!updated) return;
        const list = this.store.providers({ create: true });
        if (index >= 0) {
          this.renameRoutes(original.name, updated.name);
          list[index] = updated;
        } else list.push(updated);
        this.store.edited();
        done(updated);
        this.render();
        this.notify.info(`Provider "${updated.name}" ${index >= 0 ? "updated" : "added"}. `
          + "Save to write the config file.");
      }),
    });
    return close;
  }

  /** A renamed provider keeps its routes: "old,model" becomes "new,model". */
  renameRoutes(before, after) {
    if (!before || before === after) return;
    const router = this.store.router();
    for (const [key, route] of Object.entries(router)) {
      if (typeof route === "string" && route.split(",")[0] === before) {
        router[key] = `${after},${route.split(",").slice(1).join(",")}`;
      }
    }
  }
}

/** The add/edit form. result() returns the new provider object, or null after showing errors. */
class ProviderForm {
  constructor(original, others) {
    this.original = original && typeof original === "object" ? original : {};
    this.others = others;
  }

  render(cancel, apply) {
    const p = this.original;
    const urlKey = "api_base_url" in p || !("baseUrl" in p) ? "api_base_url" : "baseUrl";
    const keyKey = "api_key" in p || !("api_keys" in p) ? "api_key" : "api_keys";
    const key = p[keyKey];
    this.keys = { urlKey, keyKey };
    this.name = h("input", { name: "name", required: true, value: String(p.name ?? ""), spellcheck: "false",
      placeholder: "openrouter" });
    this.url = h("input", { name: "api_base_url", type: "url", required: true, spellcheck: "false",
      value: String(p[urlKey] ?? ""), placeholder: "https://api.openai.com/v1/chat/completions" });
    const secret = secretInput({ name: "api_key", value: Array.isArray(key) ? key.join(", ") : String(key ?? ""),
      placeholder: "$OPENAI_API_KEY or sk-..." });
    this.key = secret.querySelector("input");
    this.models = h("textarea", { name: "models", rows: 3, spellcheck: "false",
      placeholder: "one model per line" });
    this.models.value = (Array.isArray(p.models) ? p.models : []).join("\n");
    this.headers = h("textarea", { name: "headers", rows: 2, class: "mono", spellcheck: "false",
      placeholder: '{"HTTP-Referer": "https://example.com"}' });
    this.headers.value = p.headers === undefined ? "" : pretty(p.headers);

    const transformer = p.transformer && typeof p.transformer === "object" && !Array.isArray(p.transformer)
      ? p.transformer : {};
    this.chain = chainEditor(transformer.use, "Provider transformers");
    this.modelChains = h("div", { class: "model-chains" });
    this.modelEditors = new Map();
    for (const [model, sub] of Object.entries(transformer)) {
      if (model !== "use" && sub && typeof sub === "object" && Array.isArray(sub.use)) this.addModelChain(model, sub.use);
    }
    this.modelPick = h("input", { list: "provider-models", placeholder: "model name",
      "aria-label": "Model for a model-specific chain", spellcheck: "false" });
    this.errors = h("ul", { class: "form-errors", role: "alert" });

    const form = h("form", { class: "provider-form", novalidate: true,
      onsubmit: (event) => { event.preventDefault(); apply(); } },
      field("Name", this.name, "Unique; used in routes as name,model."),
      field("API URL", this.url, "The full endpoint URL, e.g. …/v1/chat/completions."),
      field("API key", secret, "$VAR reads it from the environment. Several keys (rotated): separate with commas. Empty for local servers."),
      field("Models", this.models),
      h("fieldset", {}, h("legend", {}, "Transformers (provider)"), this.chain.element),
      h("fieldset", {}, h("legend", {}, "Transformers for one model"),
        this.modelChains,
        h("div", { class: "inline" }, this.modelPick,
          h("button", { type: "button", class: "ghost small", onclick: () => {
            const model = this.modelPick.value.trim();
            if (model && !this.modelEditors.has(model)) this.addModelChain(model, []);
            this.modelPick.value = "";
          } }, "+ Add model chain"))),
      field("Extra headers (JSON)", this.headers, "Optional HTTP headers sent to this provider."),
      this.errors,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "ghost", onclick: cancel }, "Cancel"),
        h("button", { type: "submit", class: "primary", "data-apply": "" }, "Apply")));
    const list = h("datalist", { id: "provider-models" });
    const syncModels = () => mount(list, this.modelList().map((m) => h("option", { value: m })));
    this.models.addEventListener("input", syncModels);
    syncModels();
    return h("div", {}, form, list);
  }

  addModelChain(model, use) {
    const editor = chainEditor(use, `Transformers for ${model}`);
    const block = h("div", { class: "model-chain", dataset: { model } },
      h("div", { class: "inline" }, h("strong", { class: "mono" }, model),
        h("button", { type: "button", class: "ghost small danger", onclick: () => {
          block.remove();
          this.modelEditors.delete(model);
        } }, "Remove")),
      editor.element);
    this.modelEditors.set(model, editor);
    this.modelChains.append(block);
  }

  modelList() {
    return this.models.value.split(/[\n,]/).map((m) => m.trim()).filter(Boolean);
  }

  result() {
    const problems = [];
    const name = this.name.value.trim();
    const url = this.url.value.trim();
    if (!name) problems.push("Name is required.");
    else if (name.includes(",")) problems.push("Name must not contain a comma (routes are written name,model).");
    else if (this.others.some((o) => String(o?.name ?? "").toLowerCase() === name.toLowerCase())) {
      problems.push(`Another provider is already called "${name}".`);
    }
    if (!url) problems.push("API URL is required.");
    else if (!/^(https?:\/\/|\$)/.test(url)) problems.push("API URL must start with http:// or https://.");

    const updated = structuredClone(this.original);
    updated.name = name;
    updated[this.keys.urlKey] = url;
    const keyText = this.key.value.trim();
    const keys = keyText.split(",").map((k) => k.trim()).filter(Boolean);
    if (keys.length > 1) updated[this.keys.keyKey] = keys;
    else if (keyText || this.keys.keyKey in updated) updated[this.keys.keyKey] = keys[0] ?? "";
    updated.models = this.modelList();

    const headerText = this.headers.value.trim();
    if (!headerText) delete updated.headers;
    else {
      try {
        const headers = JSON.parse(headerText);
        if (headers === null || typeof headers !== "object" || Array.isArray(headers)) throw new Error("not an object");
        updated.headers = headers;
      } catch (error) {
        problems.push(`Extra headers must be a JSON object (${error.message}).`);
      }
    }

    const transformer = updated.transformer && typeof updated.transformer === "object"
      && !Array.isArray(updated.transformer) ? updated.transformer : {};
    try {
      const use = this.chain.value();
      if (use.length) transformer.use = use; else delete transformer.use;
    } catch (error) { problems.push(error.message); }
    for (const [model, sub] of Object.entries(transformer)) {
      const isChain = model !== "use" && sub && typeof sub === "object" && Array.isArray(sub.use);
      if (isChain && !this.modelEditors.has(model)) delete transformer[model];
    }
    for (const [model, editor] of this.modelEditors) {
      try {
        const use = editor.value();
        const sub = transformer[model] && typeof transformer[model] === "object" ? transformer[model] : {};
        if (use.length) transformer[model] = { ...sub, use };
        else delete transformer[model];
      } catch (error) { problems.push(error.message); }
    }
    if (Object.keys(transformer).length) updated.transformer = transformer;
    else delete updated.transformer;

    mount(this.errors, problems.map((problem) => h("li", {}, problem)));
    return problems.length ? null : updated;
  }
}
