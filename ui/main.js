// Boot, tabs, the header's Save buttons, notices and the login form.

import * as api from "./api.js";
import { CataloguePanel } from "./catalogue.js";
import { h, mount } from "./dom.js";
import { InspectorPanel } from "./inspector.js";
import { LogsPanel } from "./logs.js";
import { ProvidersPanel } from "./providers.js";
import { RawPanel } from "./raw.js";
import { RouterPanel } from "./routes.js";
import { SettingsPanel } from "./settings.js";
import { Store } from "./store.js";
import { TasksPanel } from "./tasks.js";
import { UsagePanel } from "./usage.js";

const $ = (id) => document.getElementById(id);
const HEALTH_POLLS = 40;
const HEALTH_POLL_MS = 250;

/** Errors stay until dismissed (they list every problem); information fades. */
class Notices {
  constructor(root) { this.root = root; }

  error(title, problems = []) {
    this.show(h("div", { class: "notice error", role: "alert" },
      h("div", {}, h("strong", {}, title),
        problems.length ? h("ul", { class: "problems" }, problems.map((p) => h("li", {}, p))) : null),
      h("button", { type: "button", class: "ghost small", "aria-label": "Dismiss", onclick: () => this.clear() }, "✕")));
  }

  info(message) {
    const note = h("div", { class: "notice ok", role: "status" }, h("span", {}, message),
      h("button", { type: "button", class: "ghost small", "aria-label": "Dismiss", onclick: () => this.clear() }, "✕"));
    this.show(note);
    setTimeout(() => note.remove(), 8000);
  }

  show(node) { mount(this.root, node); }

  clear() { this.root.replaceChildren(); }
}

const store = new Store();
const notify = new Notices($("notice"));
const catalogue = new CataloguePanel($("tab-transformers"), store, notify);
const panels = {
  providers: new ProvidersPanel($("tab-providers"), store, notify),
  router: new RouterPanel($("tab-router"), store),
  settings: new SettingsPanel($("tab-settings"), store),
  transformers: catalogue,
  logs: new LogsPanel($("tab-logs"), notify),
  stats: new UsagePanel($("tab-stats")),
  tasks: new TasksPanel($("tab-tasks"), notify),
  inspector: new InspectorPanel($("tab-inspector"), notify),
  json: new RawPanel($("tab-json"), store, notify),
};
const CONFIG_PANELS = ["providers", "router", "settings", "transformers", "json"];
let current = null;
for (const name of ["logs", "stats", "tasks", "inspector"]) panels[name].render();

store.addEventListener("reload", () => CONFIG_PANELS.forEach((name) => panels[name].render()));
/** Unsaved: the draft differs from the file, or the raw editor holds text not applied yet. */
function refreshDirty() {
  const dirty = store.dirty || panels.json.pending;
  $("dirty").hidden = !dirty;
  $("save").disabled = !dirty;
}
store.addEventListener("edit", refreshDirty);
$("tab-json").addEventListener("input", refreshDirty);

function showTab(name) {
  if (!(name in panels)) name = "providers";
  if (current === "json" && name !== "json" && panels.json.pending && !panels.json.apply()) {
    history.replaceState(null, "", "#json");
    return;
  }
  if (current && current !== name) panels[current].hidden?.();
  for (const tab of document.querySelectorAll("[data-tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
    if (tab.dataset.tab === name) tab.scrollIntoView({ block: "nearest", inline: "nearest" });
  }
  for (const [key] of Object.entries(panels)) $(`tab-${key}`).hidden = key !== name;
  const changed = current !== name;
  current = name;
  if (changed && name === "json") panels.json.render();
  if (changed) panels[name].shown?.();
}

async function save({ restart = false } = {}) {
  notify.clear();
  clearInvalid();
  if (current === "json" && !panels.json.apply()) return;
  const buttons = [$("save"), $("save-restart")];
  buttons.forEach((b) => { b.disabled = true; });
  try {
    if (store.dirty || !restart) {  // "Save and restart" with nothing to save only restarts
      const result = await api.saveConfig(store.config);
      store.markSaved();
      if (!restart) notify.info(`${result?.message ?? "Config saved"}. Restart to apply it.`);
    }
    if (restart) await restartServer();
  } catch (error) {
    if (error.status === 401) return;
    const problems = error.problems;
    const title = error.status === 400 ? "The config was not saved" : `${restart ? "Save and restart" : "Save"} failed`;
    notify.error(title, problems.length ? problems : [error.message]);
    markInvalid(problems);
  } finally {
    refreshDirty();
    $("save-restart").disabled = false;
  }
}

/** Outline the fields a problem names ("PORT: ..." -> #setting-PORT, "Router.think: ..." ->
 * #route-think) and show the problem under the field, where a screen reader finds it too. */
function markInvalid(problems) {
  for (const problem of problems) {
    const path = problem.split(":")[0].trim();
    const [head, key] = path.split(".");
    const id = head === "Router" && key ? `route-${key}` : `setting-${head}`;
    const field = document.getElementById(id);
    if (!field) continue;
    field.setAttribute("aria-invalid", "true");
    const box = field.closest(".field") ?? field.parentElement;
    let message = box.querySelector(`[data-problem-for="${id}"]`);
    if (!message) {
      message = h("small", { class: "field-error", id: `${id}-problem`, dataset: { problemFor: id } });
      box.append(message);
      field.setAttribute("aria-describedby", message.id);
    }
    message.textContent = message.textContent ? `${message.textContent} ${problem}` : problem;
  }
}

function clearInvalid() {
  for (const field of document.querySelectorAll("[aria-invalid]")) {
    field.removeAttribute("aria-invalid");
    field.removeAttribute("aria-describedby");
  }
  for (const message of document.querySelectorAll(".field-error[data-problem-for]")) message.remove();
}

async function restartServer() {
  const cfg = store.config;
  // A new admin key (ADMIN_APIKEY, else APIKEY) takes effect with the restart; keep this browser
  // signed in when we know it. Without one, the local admin token this page holds stays valid.
  const admin = [cfg.ADMIN_APIKEY, cfg.APIKEY].find((k) => typeof k === "string" && k.trim());
  const key = admin ? admin.trim() : "";
  const result = await api.restart();
  if (key && !key.startsWith("$")) api.apiKey.set(key);
  const moved = result?.address;
  if (moved && result?.restart === "process") {
    notify.info(`${result.message ?? "Restarting"}. ccr moves to ${moved}: open ${moved}/ui/ there.`);
    return;
  }
  if (moved && result?.restart === "manual") {
    notify.info(`${result.message}.`);
    return;
  }
  notify.info(`${result?.message ?? "Restart initiated"}…`);
  for (let i = 0; i < HEALTH_POLLS; i += 1) {
    try { await api.health(); break; } catch { await new Promise((r) => setTimeout(r, HEALTH_POLL_MS)); }
  }
  await reload();
  updateStatus();
  notify.info("Restarted: the saved config is in use.");
}

async function reload() {
  const { data, source } = await api.getConfig();
  store.load(data && typeof data === "object" && !Array.isArray(data) ? data : {});
  if (source === "running") {
    notify.error("The config file on disk has errors", ["This page shows the config ccr is running. "
      + "Saving from here replaces the file (its previous version is kept as a backup)."]);
  }
}

async function updateStatus() {
  try {
    const health = await api.health();
    $("version").textContent = health?.version ? `v${health.version}` : "";
    $("health").className = "health ok";
    $("health").title = `Running · ${health?.providers ?? "?"} providers`;
  } catch {
    $("health").className = "health down";
    $("health").title = "ccr is not answering";
  }
}

function showLogin(message) {
  $("app").hidden = true;
  $("actions").hidden = true;
  $("login").hidden = false;
  $("logout").hidden = true;
  $("login-error").textContent = message;
  $("login-key").value = "";
  $("login-key").focus();
}

async function boot() {
  $("fatal").hidden = true;
  updateStatus();
  try {
    await reload();
  } catch (error) {
    if (error.status === 401) return; // the login form is already showing
    $("app").hidden = true;
    $("actions").hidden = true;
    $("fatal").hidden = false;
    $("fatal").textContent = `Could not load the config: ${error.message}`;
    return;
  }
  $("login").hidden = true;
  $("app").hidden = false;
  $("actions").hidden = false;
  $("logout").hidden = !api.apiKey.get();
  showTab(window.location.hash.slice(1));
  await catalogue.load();
  catalogue.render();
}

window.addEventListener("ccr:unauthorized", () => {
  const hadKey = Boolean(api.apiKey.get());
  api.apiKey.set("");
  showLogin(hadKey ? "Invalid API key." : "");
});
window.addEventListener("hashchange", () => showTab(window.location.hash.slice(1)));
window.addEventListener("beforeunload", (event) => { if (store.config && store.dirty) event.preventDefault(); });
$("save").addEventListener("click", () => save());
$("save-restart").addEventListener("click", () => save({ restart: true }));
$("logout").addEventListener("click", () => { api.apiKey.set(""); showLogin(""); });
$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  api.apiKey.set($("login-key").value.trim());
  boot();
});

boot();
