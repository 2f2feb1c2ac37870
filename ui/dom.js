// Tiny DOM helpers. Everything that shows data from the server goes through textContent,
// never as markup: config values and log lines are not trusted HTML.

/**
 * h("button", {class: "primary", onclick: save}, "Save") -> <button class="primary">Save</button>
 * Attributes: class, text, dataset, on<event> handlers, boolean attributes, anything else via
 * setAttribute. Children: nodes, strings, numbers, arrays; null/undefined/false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "value" || name === "checked" || name === "selected") el[name] = value;
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace all children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled form row: <label><span>Label</span>control<small>hint</small></label> */
export function field(label, control, hint) {
  return h("label", { class: "field" },
    h("span", { class: "field-label" }, label),
    control,
    hint ? h("small", { class: "hint" }, hint) : null);
}

/** A password input with a Show/Hide toggle; `$VAR` references are shown as written. */
export function secretInput(attrs) {
  const input = h("input", { type: "password", autocomplete: "off", spellcheck: "false", ...attrs });
  let shown = false;
  const toggle = h("button", { type: "button", class: "ghost small" });
  const sync = () => {
    const reference = input.value.startsWith("$");
    input.type = shown || reference ? "text" : "password";
    toggle.textContent = shown ? "Hide" : "Show";
    toggle.hidden = reference;
  };
  toggle.addEventListener("click", () => { shown = !shown; sync(); });
  input.addEventListener("input", sync);
  sync();
  return h("span", { class: "secret" }, input, toggle);
}

/** "sk-…a1b2" for a literal key; environment references ($VAR) stay as written. */
export function maskKey(value) {
  if (Array.isArray(value)) return value.map(maskKey).join(", ");
  if (typeof value !== "string" || value === "") return "(none)";
  if (value.startsWith("$")) return value;
  return value.length > 12 ? `${value.slice(0, 3)}…${value.slice(-4)}` : "••••••";
}

export function formatBytes(n) {
  if (typeof n !== "number") return "";
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** "2026-11-22 01:44:38" in local time, the one format every page uses; unparsable as written. */
export function formatTime(value) {
  const date = new Date(value);
  if (value === null || value === undefined || Number.isNaN(date.getTime())) return String(value ?? "");
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} `
    + `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** Pretty JSON for display and editing. */
export const pretty = (value) => JSON.stringify(value, null, 2);
