// General settings: the top-level keys of claude-code-router's settings dialog. An emptied
// field removes its key (the default applies); keys not listed here are kept as they are.

import { field, h, mount, secretInput } from "./dom.js";

const SETTINGS = [
  { key: "LOG", label: "Logging", kind: "bool", hint: "JSON-line logs in ~/.claude-code-router/logs (default: on)." },
  { key: "LOG_LEVEL", label: "Log level", kind: "choice",
    choices: ["fatal", "error", "warn", "info", "debug", "trace"], hint: "Default: info." },
  { key: "LOG_MAX_SIZE_MB", label: "Log file size (MB)", kind: "int", placeholder: "50",
    hint: "A server log file is rotated when it reaches this size (and every day)." },
  { key: "LOG_MAX_FILES", label: "Log files kept", kind: "int", placeholder: "3" },
  { key: "HOST", label: "Host", kind: "text", placeholder: "127.0.0.1",
    hint: "Listen address. Anything but 127.0.0.1/localhost needs an APIKEY. Takes a restart." },
  { key: "PORT", label: "Port", kind: "int", placeholder: "3456", hint: "Takes a restart." },
  { key: "APIKEY", label: "API key", kind: "secret", placeholder: "$CCR_APIKEY",
    hint: "Clients send it as x-api-key or Authorization: Bearer. $VAR reads it from the environment." },
  { key: "ADMIN_APIKEY", label: "Admin key", kind: "secret", placeholder: "$CCR_ADMIN_KEY",
    hint: "For this UI, the management API and the execution API (default: the API key; with no key "
      + "at all, the local admin token). Once it differs, the API key is not enough to manage ccr." },
  { key: "API_TIMEOUT_MS", label: "Upstream timeout (ms)", kind: "int", placeholder: "600000" },
  { key: "IDLE_TIMEOUT_MS", label: "Idle connection timeout (ms)", kind: "int", placeholder: "30000",
    hint: "A client connection idle this long is closed (500 to 30000). Applies when ccr starts." },
  { key: "PROXY_URL", label: "Proxy URL", kind: "text", placeholder: "http://127.0.0.1:7890",
    hint: "HTTP(S) proxy for calls to providers." },
  { key: "CUSTOM_ROUTER_PATH", label: "Custom router", kind: "text",
    placeholder: "~/.claude-code-router/router.py", hint: "A Python file defining route(body, config)." },
  { key: "CLAUDE_PATH", label: "Claude Code path", kind: "text", placeholder: "claude" },
  { key: "NON_INTERACTIVE_MODE", label: "Non-interactive mode", kind: "bool",
    hint: "For CI and scripts: ccr code sets the variables Claude Code needs to run without a TTY." },
  { key: "CONFIG_BACKUPS", label: "Config backups kept", kind: "int", placeholder: "3",
    hint: "Timestamped copies of the previous config kept by each save (0: none)." },
  { key: "INSPECTOR", label: "Request inspector", kind: "bool",
    hint: "Keep the last requests' bodies for the Inspector page (default: off). Takes a restart." },
  { key: "INSPECTOR_MAX_REQUESTS", label: "Inspector: requests kept", kind: "int", placeholder: "50" },
  { key: "INSPECTOR_MAX_BYTES", label: "Inspector: bytes kept", kind: "int", placeholder: "8388608",
    hint: "All bodies together; the oldest requests go first." },
];
const STRUCTURE = new Set(["Providers", "providers", "Router", "transformers"]);

export class SettingsPanel {
  constructor(root, store) {
    this.root = root;
    this.store = store;
  }

  render() {
    const cfg = this.store.config;
    const known = new Set(SETTINGS.map((s) => s.key));
    const others = Object.keys(cfg).filter((key) => !known.has(key) && !STRUCTURE.has(key));
    mount(this.root,
      h("div", { class: "panel-head" }, h("h2", {}, "General settings")),
      h("div", { class: "form-grid" }, SETTINGS.map((setting) =>
        field(setting.label, this.control(setting, cfg[setting.key]), setting.hint))),
      others.length
        ? h("p", { class: "kept" }, "Other settings in your config, kept as they are: ",
          others.map((key, i) => [i ? ", " : "", h("code", {}, key)]))
        : null);
  }

  control({ key, kind, choices, placeholder }, current) {
    const set = (value) => this.store.setKey(this.store.config, key, value);
    const id = `setting-${key}`;
    if (kind === "bool" || kind === "choice") {
      const values = kind === "bool" ? [["true", "on"], ["false", "off"]] : choices.map((c) => [c, c]);
      const text = current === undefined ? "" : String(current);
      if (text && !values.some(([v]) => v === text)) values.push([text, text]);
      const select = h("select", { id, onchange: () => {
        const v = select.value;
        set(kind === "bool" && (v === "true" || v === "false") ? v === "true" : v);
      } }, h("option", { value: "" }, "— default —"), values.map(([v, label]) => h("option", { value: v }, label)));
      select.value = text;
      return select;
    }
    const value = current === undefined || current === null ? "" : String(current);
    if (kind === "secret") {
      const wrap = secretInput({ id, value, placeholder });
      wrap.querySelector("input").addEventListener("input", (event) => set(event.target.value.trim()));
      return wrap;
    }
    const input = h("input", { id, value, placeholder, spellcheck: "false",
      inputmode: kind === "int" ? "numeric" : undefined,
      oninput: () => {
        const text = input.value.trim();
        set(kind === "int" && /^\d+$/.test(text) ? Number(text) : text);
      } });
    return input;
  }
}
