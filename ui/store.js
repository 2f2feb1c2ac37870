// The config being edited. Panels change `store.config` in place, touching only the keys they
// show, so every other key (including ones this UI has never heard of) is saved back as it
// came: claude-code-router's UI rebuilt the config from known fields and lost the rest (#749).
//
// Events: "reload" when the whole config is replaced (panels re-render), "edit" after any
// change (the header updates its unsaved-changes marker).

export class Store extends EventTarget {
  config = null;
  #saved = "null";

  /** A config fresh from the server (or just saved): nothing is unsaved. */
  load(config) {
    this.config = config;
    this.#saved = JSON.stringify(config);
    this.dispatchEvent(new Event("reload"));
    this.dispatchEvent(new Event("edit"));
  }

  /** A whole new draft (from the raw JSON editor). */
  replace(config) {
    this.config = config;
    this.dispatchEvent(new Event("reload"));
    this.dispatchEvent(new Event("edit"));
  }

  /** Call after changing `config` in place. */
  edited() {
    this.dispatchEvent(new Event("edit"));
  }

  markSaved() {
    this.#saved = JSON.stringify(this.config);
    this.dispatchEvent(new Event("edit"));
  }

  get dirty() {
    return JSON.stringify(this.config) !== this.#saved;
  }

  /** The providers list, under whichever spelling the file uses ("Providers" or "providers").
   *  With `create`, an absent list is added to the config (only when the user adds one). */
  providers({ create = false } = {}) {
    const cfg = this.config;
    if (Array.isArray(cfg.Providers)) return cfg.Providers;
    if (Array.isArray(cfg.providers)) return cfg.providers;
    if (!create) return [];
    cfg.Providers = [];
    return cfg.Providers;
  }

  router({ create = false } = {}) {
    const cfg = this.config;
    const ok = cfg.Router !== null && typeof cfg.Router === "object" && !Array.isArray(cfg.Router);
    if (ok) return cfg.Router;
    if (!create) return {};
    cfg.Router = {};
    return cfg.Router;
  }

  /** Every "provider,model" pair, for the route selects. */
  get routeChoices() {
    return this.providers().flatMap((p) =>
      (Array.isArray(p?.models) ? p.models : []).map((model) => `${p.name},${model}`));
  }

  /** Set a top-level key, or remove it when `value` is "" / null / undefined. */
  setKey(target, key, value) {
    if (value === "" || value === null || value === undefined) delete target[key];
    else target[key] = value;
    this.edited();
  }
}
