// Modal dialogs on the native <dialog> element (no window.confirm: it blocks the page and
// cannot be styled).

import { h } from "./dom.js";

/** Show a modal; resolves with the value passed to close(), or null when dismissed. */
export function modal({ title, body, className = "" }) {
  const dialog = h("dialog", { class: `modal ${className}`, "aria-label": title });
  let settle;
  const done = new Promise((resolve) => { settle = resolve; });
  const close = (value = null) => { settle(value); dialog.close(); dialog.remove(); };
  dialog.addEventListener("cancel", (event) => { event.preventDefault(); close(null); });
  dialog.append(h("h2", {}, title), typeof body === "function" ? body(close) : body);
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, done, close };
}

/** Ask a yes/no question; resolves true when confirmed. */
export function confirmDialog(message, { confirm = "OK", danger = false } = {}) {
  return modal({
    title: "Please confirm",
    className: "confirm",
    body: (close) => h("div", {},
      h("p", {}, message),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "ghost", onclick: () => close(false) }, "Cancel"),
        h("button", { type: "button", class: danger ? "danger" : "primary", "data-confirm": "",
          onclick: () => close(true) }, confirm))),
  }).done.then(Boolean);
}
