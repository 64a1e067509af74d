// History API routing: paths map to screens; links with data-link (or plain same-origin <a>) navigate in place.

const routes = [];
let current = null; // {route, params, cleanup}
let notFound = null;

/** route("/chat/:id", ({id}) => cleanup?) — the first matching pattern wins; "*" at the end matches the rest. */
export function route(pattern, screen) {
  const parts = pattern.split("/").filter(Boolean);
  routes.push({ pattern, parts, screen });
}

export function fallback(screen) {
  notFound = screen;
}

function match(path) {
  const segments = path.split("/").filter(Boolean);
  for (const candidate of routes) {
    const params = {};
    let ok = true;
    for (let i = 0; i < candidate.parts.length; i += 1) {
      const part = candidate.parts[i];
      if (part === "*") {
        params.rest = segments.slice(i).join("/");
        i = candidate.parts.length;
        break;
      }
      if (i >= segments.length) { ok = false; break; }
      if (part.startsWith(":")) params[part.slice(1)] = decodeURIComponent(segments[i]);
      else if (part !== segments[i]) { ok = false; break; }
    }
    if (ok && (candidate.parts.includes("*") || candidate.parts.length === segments.length)) {
      return { route: candidate, params };
    }
  }
  return null;
}

/** Shows the screen for the current location. A screen that stays (the same screen function serves the new
 * path, as /chat and /chat/:id share one) gets update(params) instead of being built again. */
export function render() {
  const found = match(location.pathname);
  if (current && found && current.route?.screen === found.route.screen && current.handle?.update) {
    current.params = found.params;
    current.handle.update(found.params);
    return;
  }
  if (current?.handle?.cleanup) current.handle.cleanup();
  if (!found) {
    current = { route: null, params: {}, handle: notFound ? notFound({}) : null };
    return;
  }
  current = { route: found.route, params: found.params, handle: found.route.screen(found.params) || null };
}

/** navigate("/chat/123") pushes a history entry (replace: true replaces it) and renders. */
export function navigate(path, { replace = false } = {}) {
  if (path === location.pathname + location.search + location.hash && !replace) return render();
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  render();
}

/** A path from a ?next= value, only when it is a same-origin path of this console (ASVS 3.7.2). */
export function safeNext(raw, fallbackPath = "/chat") {
  if (!raw || !raw.startsWith("/") || raw.startsWith("//") || raw.startsWith("/\\")) return fallbackPath;
  try {
    const url = new URL(raw, location.origin);
    if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return fallbackPath;
    return url.pathname + url.search;
  } catch {
    return fallbackPath;
  }
}

export function startRouter() {
  window.addEventListener("popstate", render);
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    const link = event.target.closest("a[href]");
    if (!link || link.target || link.hasAttribute("download")) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
    event.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  });
  render();
}
