// Tasks: run a Claude Code prompt or workflow through the execution API, watch its output
// stream in, list and filter stored tasks, open one, cancel it, see its cost and tokens.

import * as api from "./api.js";
import { field, formatTime, h, mount } from "./dom.js";

const STATUSES = ["", "pending", "running", "completed", "failed", "cancelled"];
const FORMATS = ["text", "json", "stream-json", "markdown"];
const LIVE = new Set(["pending", "running"]);
const WORKFLOW_EXAMPLE = `workflow:
  - name: generate
    prompt: Write a quicksort in Python
  - name: review
    prompt: Review the code above
    use_context: true`;

/** One line of the CLI's stream-json output as short text: what the agent said or did. */
export function describeOutput(line) {
  let event;
  try { event = JSON.parse(line); } catch { return String(line); }
  if (!event || typeof event !== "object") return String(line);
  if (event.type === "system") return `[${event.subtype ?? "system"}] model ${event.model ?? "?"}`;
  if (event.type === "assistant" || event.type === "user") {
    const blocks = Array.isArray(event.message?.content) ? event.message.content : [];
    const parts = blocks.map((block) => {
      if (block.type === "text") return block.text;
      if (block.type === "tool_use") return `→ ${block.name} ${JSON.stringify(block.input ?? {})}`;
      if (block.type === "tool_result") {
        const content = Array.isArray(block.content) ? block.content.map((c) => c.text ?? "").join(" ") : block.content;
        return `← ${String(content ?? "").slice(0, 400)}`;
      }
      if (block.type === "thinking") return `(thinking) ${block.thinking ?? ""}`;
      return `[${block.type}]`;
    });
    return parts.join("\n") || `[${event.type}]`;
  }
  if (event.type === "result") return `[result: ${event.subtype ?? ""}] ${event.result ?? ""}`;
  return `[${event.type ?? "event"}]`;
}

export class TasksPanel {
  constructor(root, notify) {
    this.root = root;
    this.notify = notify;
    this.stream = null; // AbortController of the open task's event stream
    this.current = null;
    this.mode = "prompt";
    this.prompt = h("textarea", { id: "task-prompt", rows: 4, placeholder: "What should Claude Code do?",
      "aria-label": "Prompt" });
    this.workflow = h("textarea", { id: "task-workflow", rows: 7, class: "mono", spellcheck: "false",
      "aria-label": "Workflow (YAML or JSON)", placeholder: WORKFLOW_EXAMPLE });
    this.options = {
      model: h("input", { id: "task-model", placeholder: "default route", spellcheck: "false" }),
      format: h("select", { id: "task-format" }, FORMATS.map((f) => h("option", { value: f }, f))),
      timeout: h("input", { id: "task-timeout", inputmode: "numeric", placeholder: "60" }),
      max_retries: h("input", { id: "task-retries", inputmode: "numeric", placeholder: "3" }),
      max_tokens: h("input", { id: "task-max-tokens", inputmode: "numeric", placeholder: "(model default)" }),
      temperature: h("input", { id: "task-temperature", inputmode: "decimal", placeholder: "(model default)" }),
      working_dir: h("input", { id: "task-working-dir", placeholder: "the workspace", spellcheck: "false" }),
    };
    this.filter = h("select", { id: "task-filter", "aria-label": "Show tasks with status",
      onchange: () => this.refresh() }, STATUSES.map((s) => h("option", { value: s }, s || "all statuses")));
    this.search = h("input", { type: "search", id: "task-search", placeholder: "Filter by id or kind",
      "aria-label": "Filter tasks", oninput: () => this.renderList() });
    this.list = h("div", { class: "table-wrap", id: "task-list" });
    this.detail = h("section", { class: "card task-detail", id: "task-detail", "aria-live": "polite", hidden: true });
    this.tasks = [];
  }

  render() {
    const modeButton = (mode, text) => h("button", { type: "button", class: "ghost small", role: "radio",
      "aria-checked": String(this.mode === mode), id: `task-mode-${mode}`,
      onclick: () => { this.mode = mode; this.render(); } }, text);
    mount(this.root,
      h("div", { class: "panel-head" }, h("h2", {}, "Tasks"), h("span", { class: "spacer" }),
        h("button", { type: "button", class: "ghost", onclick: () => this.refresh() }, "Refresh")),
      h("form", { class: "card task-form", "aria-label": "Run a task",
        onsubmit: (event) => { event.preventDefault(); this.run(); } },
        h("div", { class: "inline", role: "radiogroup", "aria-label": "What to run" },
          modeButton("prompt", "Prompt"), modeButton("workflow", "Workflow")),
        this.mode === "prompt" ? field("Prompt", this.prompt)
          : field("Workflow (YAML or JSON)", this.workflow,
            "Steps run in order; use_context passes earlier output on. Options go in each step (the form's are for prompts)."),
        h("details", {}, h("summary", {}, "Options"),
          h("div", { class: "form-grid" },
            field("Model", this.options.model, "provider,model or an alias; empty: the Router decides."),
            field("Output format", this.options.format),
            field("Timeout (s)", this.options.timeout),
            field("Retries", this.options.max_retries),
            field("Max output tokens", this.options.max_tokens),
            field("Temperature", this.options.temperature),
            field("Working directory", this.options.working_dir))),
        h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", id: "task-run" }, "Run"))),
      this.detail,
      h("div", { class: "toolbar wrap" }, h("h3", {}, "Stored tasks"), h("span", { class: "spacer" }),
        this.filter, this.search),
      this.list);
  }

  shown() {
    this.refresh();
  }

  hidden() {
    this.stream?.abort();
  }

  /** The options the form sets; numbers as numbers, empty fields left out. */
  collectOptions() {
    const options = {};
    for (const [name, input] of Object.entries(this.options)) {
      const text = input.value.trim();
      if (!text || (name === "format" && text === "text")) continue;
      options[name] = ["timeout", "max_retries", "max_tokens", "temperature"].includes(name) && !Number.isNaN(Number(text))
        ? Number(text) : text;
    }
    return options;
  }

  async run() {
    const options = this.collectOptions();
    try {
      if (this.mode === "prompt") {
        const prompt = this.prompt.value.trim();
        if (!prompt) { this.notify.error("Nothing to run", ["Write a prompt first."]); return; }
        const accepted = await api.runTask({ prompt, options });
        await this.refresh();
        this.open(accepted.task_id);
      } else {
        await this.runWorkflow();
      }
    } catch (error) {
      if (error.status !== 401) this.notify.error("The task was not started", error.problems?.length ? error.problems : [error.message]);
    }
  }

  async runWorkflow() {
    const text = this.workflow.value.trim();
    if (!text) { this.notify.error("Nothing to run", ["Write the workflow's steps first."]); return; }
    const json = text.startsWith("{") || text.startsWith("[");
    const lines = h("ol", { class: "task-output mono", id: "task-output" });
    this.stream?.abort();
    this.stream = new AbortController();
    this.detail.hidden = false;
    mount(this.detail, h("h3", {}, "Workflow"), h("p", { class: "muted", id: "task-status" }, "running"), lines);
    await api.streamEvents("/api/claude-code/workflow?stream=1", {
      method: "POST", body: text, contentType: json ? "application/json" : "application/yaml", signal: this.stream.signal,
    }, (event, data) => {
      if (event === "step") {
        lines.append(h("li", {}, `[${data.step_number}/${data.total_steps}] ${data.step_name}: `
          + `${data.success ? "ok" : "failed"} ${String(data.result?.output ?? data.result?.error ?? "").slice(0, 2000)}`));
      } else if (event === "workflow") {
        this.detail.querySelector("#task-status").textContent = data.success ? "completed" : "failed";
      }
    });
    await this.refresh();
  }

  async refresh() {
    try {
      const answer = await api.tasks({ status: this.filter.value, limit: 100 });
      this.tasks = Array.isArray(answer?.tasks) ? answer.tasks : [];
    } catch (error) {
      this.tasks = [];
      mount(this.list, h("p", { class: "error" }, error.message));
      return;
    }
    this.renderList();
  }

  renderList() {
    const needle = this.search.value.trim().toLowerCase();
    const shown = this.tasks.filter((t) => !needle || `${t.id} ${t.kind}`.toLowerCase().includes(needle));
    if (!shown.length) {
      mount(this.list, h("p", { class: "empty" }, this.tasks.length ? "No task matches." : "No tasks yet."));
      return;
    }
    mount(this.list, h("table", { class: "table tasks" },
      h("thead", {}, h("tr", {}, ["Task", "Status", "Kind", "Created"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, shown.map((task) => h("tr", { dataset: { task: task.id, status: task.status } },
        h("td", {}, h("button", { type: "button", class: "ghost small mono", "aria-label": `Open task ${task.id}`,
          onclick: () => this.open(task.id) }, String(task.id).slice(0, 12))),
        h("td", {}, h("span", { class: `status status-${task.status}` }, task.status)),
        h("td", {}, String(task.kind ?? "")),
        h("td", {}, formatTime(task.created_at)))))));
  }

  /** Show one task and follow its events while it runs. */
  async open(id) {
    this.stream?.abort();
    this.stream = new AbortController();
    this.current = id;
    const status = h("span", { class: "status", id: "task-status" }, "…");
    const cancel = h("button", { type: "button", class: "danger", id: "task-cancel", disabled: true,
      onclick: () => this.cancel(id, cancel) }, "Cancel task");
    const output = h("ol", { class: "task-output mono", id: "task-output", "aria-label": "Output" });
    const facts = h("dl", { class: "facts", id: "task-facts" });
    const result = h("pre", { class: "task-result", id: "task-result", hidden: true });
    this.detail.hidden = false;
    mount(this.detail,
      h("header", { class: "inline" }, h("h3", {}, "Task ", h("code", {}, id)), status, h("span", { class: "spacer" }), cancel),
      facts, output, result);
    const show = (task) => {
      status.textContent = task.status;
      status.className = `status status-${task.status}`;
      cancel.disabled = !LIVE.has(task.status);
      this.showFacts(facts, task);
      const text = task.result?.output ?? task.result?.error ?? task.error;
      result.hidden = !text;
      result.textContent = text ?? "";
    };
    try {
      show(await api.task(id));
      await api.streamEvents(`/api/claude-code/task/${encodeURIComponent(id)}/events`, { signal: this.stream.signal },
        (event, data) => {
          if (event === "output") output.append(h("li", {}, describeOutput(data.line)));
          else if (event === "start") { status.textContent = "running"; cancel.disabled = false; }
          else if (event === "retry") output.append(h("li", { class: "muted" }, `retrying (attempt ${data.attempt}): ${data.error}`));
          else if (event === "done") show(data);
        });
    } catch (error) {
      if (error.name !== "AbortError" && error.status !== 401) output.append(h("li", { class: "error" }, error.message));
    }
    if (this.current === id) this.refresh();
  }

  showFacts(facts, task) {
    const r = task.result ?? {};
    const usage = r.usage ?? {};
    const ccr = r.ccr_usage ?? {};
    const rows = [
      ["Kind", task.kind], ["Created", formatTime(task.created_at)],
      ["Finished", task.completed_at ? formatTime(task.completed_at) : null],
      ["Cost", typeof r.cost === "number" ? `$${r.cost.toFixed(4)}` : null],
      ["Tokens", usage.input_tokens !== undefined ? `${usage.input_tokens} in, ${usage.output_tokens ?? 0} out` : null],
      ["Through ccr", ccr.requests !== undefined
        ? `${ccr.requests} requests, ${ccr.input_tokens ?? 0} in, ${ccr.output_tokens ?? 0} out` : null],
      ["Attempts", task.attempts],
    ].filter(([, value]) => value !== null && value !== undefined && value !== "");
    mount(facts, rows.map(([name, value]) => [h("dt", {}, name), h("dd", { dataset: { fact: name } }, String(value))]));
  }

  async cancel(id, button) {
    button.disabled = true;
    try {
      await api.cancelTask(id);
      this.notify.info("Cancelling the task…");
    } catch (error) {
      if (error.status !== 401) this.notify.error("Could not cancel the task", [error.message]);
    }
  }
}
