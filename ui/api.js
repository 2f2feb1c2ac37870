// The one place that talks to ccr's management API. The API key the user typed (if the
// server has an APIKEY), or the admin token handed over in the address (`/ui/#token=…`, as
// `ccr ui` opens it), is kept in localStorage and sent as x-api-key; a 401 anywhere fires
// "ccr:unauthorized" so the page can show the login form.

const KEY_NAME = "ccr.apiKey";

/** Take a token from the URL fragment once, and remove it from the address bar and history. */
function adoptFragmentToken() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const token = fragment.get("token");
  if (!token) return;
  localStorage.setItem(KEY_NAME, token);
  fragment.delete("token");
  const rest = fragment.toString();
  history.replaceState(null, "", window.location.pathname + window.location.search + (rest ? `#${rest}` : ""));
}
adoptFragmentToken();

export class ApiError extends Error {
  constructor(status, type, message, body) {
    super(message);
    this.status = status;
    this.type = type;
    this.body = body;
  }

  /** The individual problems of a rejected config: error.problems, else the "- " lines. */
  get problems() {
    const listed = this.body?.error?.problems;
    if (Array.isArray(listed) && listed.length) return listed.map(String);
    const lines = this.message.split("\n").map((line) => line.trim());
    const items = lines.filter((line) => line.startsWith("- ")).map((line) => line.slice(2));
    return items;
  }

  /** The message without its "- problem" lines. */
  get summary() {
    return this.message.split("\n").filter((line) => !line.trim().startsWith("- ")).join("\n").trim();
  }
}

export const apiKey = {
  get: () => localStorage.getItem(KEY_NAME) ?? "",
  set: (key) => (key ? localStorage.setItem(KEY_NAME, key) : localStorage.removeItem(KEY_NAME)),
};

/** fetch + JSON + Anthropic-shaped errors. `query` values that are "" or null are left out.
 *  With `withHeaders`, resolves to {data, headers}. */
export async function api(path, { method = "GET", body, query, withHeaders = false } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== "" && value !== null && value !== undefined) url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  const key = apiKey.get();
  if (key) headers["x-api-key"] = key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method, headers, cache: "no-store", credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, "network_error", `ccr is not reachable: ${error.message}`);
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) throw failure(response, text, data);
  return withHeaders ? { data, headers: response.headers } : data;
}

/** The ApiError for a refused call (Anthropic-shaped body or not); a 401 also tells the page. */
function failure(response, text, data) {
  const error = data?.error;
  const message = (typeof error === "object" ? error?.message : error) || text || response.statusText;
  const result = new ApiError(response.status, error?.type ?? "http_error", message, data);
  if (response.status === 401) window.dispatchEvent(new CustomEvent("ccr:unauthorized", { detail: result }));
  return result;
}

/** Read a server-sent event stream (fetch, so the API key header goes along; EventSource cannot
 *  send one), calling onEvent(name, data) for each event; resolves when the stream ends. */
export async function streamEvents(path, { method = "GET", body, contentType, signal } = {}, onEvent) {
  const headers = { Accept: "text/event-stream" };
  const key = apiKey.get();
  if (key) headers["x-api-key"] = key;
  if (body !== undefined) headers["Content-Type"] = contentType ?? "application/json";
  const response = await fetch(new URL(path, window.location.origin), {
    method, headers, body, signal, cache: "no-store", credentials: "same-origin" });
  if (!response.ok) {
    const text = await response.text();
    let data = null;
    try { data = JSON.parse(text); } catch { data = null; }
    throw failure(response, text, data);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const lines = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) lines.push(line.slice(5).replace(/^ /, ""));
      }
      if (!lines.length) continue;
      let data = lines.join("\n");
      try { data = JSON.parse(data); } catch { /* not JSON: passed on as text */ }
      onEvent(event, data);
    }
  }
}

/** {data, source}: source is "running" when the file on disk is broken and ccr shows what it runs. */
export const getConfig = async () => {
  const { data, headers } = await api("/api/config", { withHeaders: true });
  return { data, source: headers.get("x-ccr-config-source") ?? "file" };
};
export const saveConfig = (config) => api("/api/config", { method: "POST", body: config });
export const restart = () => api("/api/restart", { method: "POST", body: {} });
export const transformers = () => api("/api/transformers");
export const logFiles = () => api("/api/logs/files");
export const logLines = (query) => api("/api/logs", { query });
export const clearLog = (file) => api("/api/logs", { method: "DELETE", query: { file } });
export const stats = (query) => api("/api/stats", { query });
export const tasks = (query) => api("/api/tasks", { query });
export const task = (id) => api(`/api/claude-code/task/${encodeURIComponent(id)}`);
export const runTask = (body) => api("/api/claude-code/async", { method: "POST", body });
export const cancelTask = (id) => api(`/api/claude-code/task/${encodeURIComponent(id)}`, { method: "DELETE" });
export const inspector = () => api("/api/inspector");
export const inspectorEntry = (id) => api(`/api/inspector/${encodeURIComponent(id)}`);
export const clearInspector = () => api("/api/inspector", { method: "DELETE" });
export const health = () => api("/health");
export const version = () => api("/version");
