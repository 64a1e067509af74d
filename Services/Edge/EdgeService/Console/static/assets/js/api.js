// The REST client: same-origin cookie session, the console header, JSON in and out, errors as {code, message}.

export const API = "/api/whatsapp-api";

/** An answer other than 2xx (or no answer at all), in the API's own words. */
export class ApiError extends Error {
  constructor(status, code, message, details = {}, headers = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details || {};
    this.retryAfter = headers ? Number(headers.get("Retry-After")) || null : null;
  }
}

// Words an agent understands for the refusals they meet most; the API's message follows for the rest.
const plain = {
  network: "Switchboard cannot be reached. Check the connection and try again.",
  contact_not_opted_in: "This contact has not opted in, so no message can be sent. Record their consent first.",
  window_closed: "The 24-hour window is closed: only an approved template can be sent.",
  no_channel: "The organisation has no channel of that kind to send through.",
  csrf_refused: "The request was refused as cross-site. Reload the page and try again.",
  rate_limited: "Too many requests at once. Wait a moment and try again.",
  too_many_attempts: "Too many sign-in attempts. Wait and try again.",
  invalid_credentials: "Email or password is wrong.",
};

/** The sentence to show for an error: plain words for known codes, else the API's message. */
export function errorText(error) {
  if (!(error instanceof ApiError)) return error?.message || "Something went wrong.";
  let text = plain[error.code] || error.message || `The request failed (HTTP ${error.status}).`;
  if (error.retryAfter && ["too_many_attempts", "rate_limited", "too_many_streams"].includes(error.code)) {
    text += ` Retry in ${error.retryAfter} s.`;
  }
  return error.code === "network" || error.code.startsWith("http_") ? text : `${text} (${error.code})`;
}

let onUnauthorized = null;
/** Called (once per burst) when a request answers 401: the session has ended. */
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

/**
 * request("GET", "/conversations", {query: {status: "OPEN"}}) → parsed JSON (null for 204).
 * Options: query (object; arrays repeat the key; null/undefined/"" left out), body (JSON), headers, signal,
 * base (default the API prefix; "" for /api/auth/…), quiet401 (do not report a 401 as an ended session).
 */
export async function request(method, path, options = {}) {
  const url = new URL((options.base ?? API) + path, location.origin);
  for (const [key, value] of Object.entries(options.query || {})) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== null && item !== undefined && item !== "") url.searchParams.append(key, String(item));
    }
  }
  const headers = { Accept: "application/json", "X-Switchboard-Console": "1", ...(options.headers || {}) };
  const init = { method, headers, credentials: "same-origin", signal: options.signal, cache: "no-store" };
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network", plain.network);
  }
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  let body = null;
  if (type.includes("json")) {
    try {
      body = await response.json();
    } catch {
      body = null;
    }
  }
  if (!response.ok) {
    const error = body?.error || {};
    const failure = new ApiError(
      response.status,
      error.code || `http_${response.status}`,
      error.message || `The request failed (HTTP ${response.status}).`,
      error.details,
      response.headers,
    );
    if (response.status === 401 && !options.quiet401 && onUnauthorized) onUnauthorized(failure);
    throw failure;
  }
  return body;
}

export const get = (path, query, options = {}) => request("GET", path, { ...options, query });
export const post = (path, body, options = {}) => request("POST", path, { ...options, body: body ?? {} });
export const patch = (path, body, options = {}) => request("PATCH", path, { ...options, body });
export const del = (path, options = {}) => request("DELETE", path, options);

/** The auth routes live under /api/auth, outside the API prefix. */
export const auth = {
  session: () => request("GET", "/api/auth/session", { base: "", quiet401: true }),
  login: (body) => request("POST", "/api/auth/login", { base: "", body, quiet401: true }),
  logout: () => request("POST", "/api/auth/logout", { base: "", body: {}, quiet401: true }),
  acceptInvite: (body) => request("POST", "/api/auth/invite/accept", { base: "", body, quiet401: true }),
};
