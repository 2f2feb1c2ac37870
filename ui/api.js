// The one place that talks to ccr's management API. The API key the user typed (if the
// server has an APIKEY) is kept in localStorage and sent as x-api-key; a 401 anywhere fires
// "ccr:unauthorized" so the page can show the login form.

const KEY_NAME = "ccr.apiKey";

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
  if (!response.ok) {
    const error = data?.error;
    const message = (typeof error === "object" ? error?.message : error) || text || response.statusText;
    const failure = new ApiError(response.status, error?.type ?? "http_error", message, data);
    if (response.status === 401) window.dispatchEvent(new CustomEvent("ccr:unauthorized", { detail: failure }));
    throw failure;
  }
  return withHeaders ? { data, headers: response.headers } : data;
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
export const stats = () => api("/api/stats");
export const health = () => api("/health");
export const version = () => api("/version");
