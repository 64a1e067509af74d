// Boot: ask who is signed in (GET /api/auth/session), then show the sign-in page or the console.

import { auth, whenUnauthorized } from "./api.js";
import { h, mount } from "./dom.js";
import { setTimeZone } from "./format.js";
import { startLive, stopLive } from "./live.js";
import { fallback, navigate, route, safeNext, startRouter } from "./router.js";
import { startShortcuts } from "./shortcuts.js";
import { app } from "./store.js";
import { mountShell, unmountShell } from "./shell.js";
import { signinScreen } from "./screens/signin.js";
import { acceptInviteScreen } from "./screens/accept-invite.js";
import { chatScreen } from "./screens/chat.js";
import { placeholderScreen } from "./screens/placeholder.js";

const root = document.getElementById("app");
// Other tabs of this browser hear about sign-in and sign-out.
const sessions = typeof BroadcastChannel === "function" ? new BroadcastChannel("switchboard-session") : null;

/** A session became known (boot, sign-in, accepted invite). */
export function signedIn(session, { announce = true } = {}) {
  app.set({ session });
  setTimeZone(session.org?.timeZone);
  startLive({ sessionAlive });
  if (announce) sessions?.postMessage({ kind: "signin" });
}

/** The session is over: stop live updates and go to the sign-in page. */
export function signedOut({ notice = null, announce = true, keepPath = false } = {}) {
  stopLive();
  unmountShell();
  app.set({ session: null, unreadConversations: 0, agents: [] });
  if (announce) sessions?.postMessage({ kind: "signout" });
  if (notice) sessionStorage.setItem("sb.notice", notice);
  const here = location.pathname + location.search;
  const next = keepPath && location.pathname !== "/signin" ? `?next=${encodeURIComponent(here)}` : "";
  navigate(`/signin${next}`, { replace: true });
}

async function sessionAlive() {
  try {
    await auth.session();
    return true;
  } catch (error) {
    if (error.status === 401) {
      signedOut({ notice: "Your session has ended. Sign in again.", keepPath: true });
      return false;
    }
    return true;
  }
}

/** Screens behind sign-in get the shell around them. */
function guarded(screen, section) {
  return (params) => {
    if (!app.get().session) {
      const here = location.pathname + location.search;
      navigate(`/signin?next=${encodeURIComponent(here)}`, { replace: true });
      return null;
    }
    const shell = mountShell(root, { section, onSignOut: signOut });
    return screen(shell.main, params, shell);
  };
}

async function signOut() {
  // The other tabs first: they stop following the stream (and show the sign-in page) before this one lets go of it,
  // so that none of them takes the stream over only to have the ended session refuse it.
  sessions?.postMessage({ kind: "signout" });
  stopLive(); // before the session ends, so that the stream does not try again without it
  try {
    await auth.logout();
  } catch (error) {
    // Even if the server could not be told, this tab forgets the session; a 401 means it had ended anyway.
    if (error.status !== 401) console.warn("sign-out failed", error);
  }
  signedOut({ notice: "You have signed out.", announce: false });
}

function publicScreen(screen) {
  return (params) => {
    unmountShell();
    return screen(root, params, {
      onSignedIn(session) {
        signedIn(session);
        navigate(safeNext(new URLSearchParams(location.search).get("next")), { replace: true });
      },
    });
  };
}

route("/", () => {
  navigate(app.get().session ? "/chat" : "/signin", { replace: true });
  return null;
});
route("/signin", (params) => {
  if (app.get().session) {
    navigate(safeNext(new URLSearchParams(location.search).get("next")), { replace: true });
    return null;
  }
  return publicScreen(signinScreen)(params);
});
route("/accept-invite", publicScreen(acceptInviteScreen));
const chat = guarded(chatScreen, "chat");
route("/chat", chat);
route("/chat/:id", chat);
// Part 2 (contacts, settings, analytics) slots in here; until then those paths say so.
route("/contacts/*", guarded(placeholderScreen("Contacts"), "contacts"));
route("/settings/*", guarded(placeholderScreen("Settings"), "settings"));
route("/analytics/*", guarded(placeholderScreen("Analytics"), "analytics"));
fallback(guarded(placeholderScreen("Page not found", true), null));

async function boot() {
  whenUnauthorized(() => {
    if (app.get().session) signedOut({ notice: "Your session has ended. Sign in again.", keepPath: true });
  });
  sessions?.addEventListener("message", ({ data }) => {
    if (data?.kind === "signout" && app.get().session) signedOut({ notice: "You signed out in another tab.", announce: false });
    if (data?.kind === "signin" && !app.get().session) location.reload();
  });
  let session = null;
  for (;;) {
    try {
      session = await auth.session();
      break;
    } catch (error) {
      if (error.status === 401 || error.status === 404) break;
      // Edge unreachable or failing: say so and try again shortly.
      mount(root, h("p", { class: "boot", role: "alert" }, `Switchboard cannot be reached: ${error.message} Retrying…`));
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }
  root.removeAttribute("aria-busy");
  if (session) signedIn(session, { announce: false });
  startShortcuts();
  startRouter();
}

boot();
