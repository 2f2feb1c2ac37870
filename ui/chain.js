// Editor for a transformer `use` list: one row per step, a name and optional options as JSON.
//   ["deepseek", ["maxtoken", {"max_tokens": 8192}]]
// Names are suggested from the catalogue (<datalist id="transformer-names"> in index.html).

import { h, pretty } from "./dom.js";

/** Returns {element, value()}; value() gives the list back or throws an Error naming the row. */
export function chainEditor(entries, label) {
  const rows = h("div", { class: "chain-rows" });

  function addRow(name = "", options = "") {
    const nameInput = h("input", {
      class: "chain-name", list: "transformer-names", placeholder: "transformer name",
      "aria-label": `${label}: transformer name`, value: name, spellcheck: "false",
    });
    const optionsInput = h("textarea", {
      class: "chain-options mono", rows: options.includes("\n") ? 3 : 1, spellcheck: "false",
      placeholder: 'options as JSON, e.g. {"max_tokens": 8192}', "aria-label": `${label}: options`,
    });
    optionsInput.value = options;
    const row = h("div", { class: "chain-row" },
      nameInput, optionsInput,
      h("span", { class: "row-buttons" },
        h("button", { type: "button", class: "ghost small", title: "Move up", "aria-label": "Move up",
          onclick: () => row.previousElementSibling?.before(row) }, "↑"),
        h("button", { type: "button", class: "ghost small", title: "Move down", "aria-label": "Move down",
          onclick: () => row.nextElementSibling?.after(row) }, "↓"),
        h("button", { type: "button", class: "ghost small danger", title: "Remove", "aria-label": "Remove step",
          onclick: () => row.remove() }, "✕")));
    rows.append(row);
  }

  for (const entry of Array.isArray(entries) ? entries : []) {
    if (typeof entry === "string") addRow(entry);
    else if (Array.isArray(entry) && typeof entry[0] === "string") {
      addRow(entry[0], entry.length > 1 ? pretty(entry[1]) : "");
    } else addRow("", pretty(entry)); // malformed: shown so the user can fix it, not dropped
  }

  const element = h("div", { class: "chain" },
    rows,
    h("button", { type: "button", class: "ghost small", onclick: () => addRow() }, "+ Add transformer"));

  function value() {
    const result = [];
    for (const row of rows.children) {
      const name = row.querySelector(".chain-name").value.trim();
      const text = row.querySelector(".chain-options").value.trim();
      if (!name && !text) continue;
      if (!name) throw new Error(`${label}: a step has options but no transformer name`);
      if (!text) { result.push(name); continue; }
      let options;
      try { options = JSON.parse(text); } catch (error) {
        throw new Error(`${label}: options of "${name}" are not valid JSON (${error.message})`);
      }
      if (options === null || typeof options !== "object" || Array.isArray(options)) {
        throw new Error(`${label}: options of "${name}" must be a JSON object like {"key": "value"}`);
      }
      result.push([name, options]);
    }
    return result;
  }

  return { element, value };
}

/** "deepseek → maxtoken(max_tokens=8192)" for a `use` list, for the provider cards. */
export function describeChain(entries) {
  if (!Array.isArray(entries) || entries.length === 0) return "";
  return entries.map((entry) => {
    if (typeof entry === "string") return entry;
    if (!Array.isArray(entry)) return JSON.stringify(entry);
    const options = entry[1] && typeof entry[1] === "object"
      ? Object.entries(entry[1]).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ") : "";
    return options ? `${entry[0]}(${options})` : String(entry[0]);
  }).join(" → ");
}
