// The frame around every signed-in screen: the Main navigation, the connection status, who is signed in,
// sign-out, and the unread count in the tab title.

import { get } from "./api.js";
import { h, setText } from "./dom.js";
import { onLiveEvent } from "./live.js";
import { app } from "./store.js";

let shell = null;

const connectionText = { live: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…" };

// Part 2 adds Contacts, Settings and Analytics here.
const sections = [{ id: "chat", label: "Chat", href: "/chat" }];

export function mountShell(root, { section, onSignOut }) {
  if (!shell) shell = createShell(root, onSignOut);
  for (const [id, link] of shell.links) {
    if (id === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  return shell.api;
}

export function unmountShell() {
  if (!shell) return;
  for (const stop of shell.stops) stop();
  clearTimeout(shell.unreadTimer);
  shell = null;
}

function createShell(root, onSignOut) {
  const session = app.get().session;
  const status = h("p", { class: "connection", role: "status", "aria-label": "Connection" });
  const badge = h("span", { class: "nav-badge", "aria-hidden": "true", hidden: true });
  const links = new Map();
  const nav = h(
    "nav",
    { "aria-label": "Main", class: "main-nav" },
    h(
      "ul",
      null,
      sections.map((section) => {
        const link = h("a", { href: section.href }, section.label);
        links.set(section.id, link);
        return h("li", null, link, section.id === "chat" ? badge : null);
      }),
    ),
  );
  const signOut = h("button", { type: "button", class: "button quiet", onclick: onSignOut }, "Sign out");
  const who = h(
    "p",
    { class: "who" },
    h("span", { class: "who-name" }, session.agent?.name || session.agent?.email || "Signed in"),
    h("span", { class: "who-org" }, [session.org?.name, session.role].filter(Boolean).join(" · ")),
  );
  const header = h(
    "header",
    { class: "topbar" },
    h("a", { class: "brand", href: "/chat" }, h("img", { src: "/assets/icon.svg", alt: "", width: 24, height: 24 }),
      h("span", { class: "brand-text" }, "Switchboard")),
    nav,
    h("div", { class: "topbar-end" }, status, who, signOut),
  );
  const main = h("main", { id: "main", class: "main", tabindex: "-1" });
  root.replaceChildren(h("a", { class: "skip", href: "#main" }, "Skip to content"), header, main);

  const state = { title: "Switchboard" };
  const renderTitle = () => {
    const count = app.get().unreadConversations;
    const prefix = count > 0 ? `(${count >= 1000 ? "999+" : count}) ` : "";
    document.title = `${prefix}${state.title} — Switchboard`;
    badge.hidden = count === 0;
    setText(badge, count >= 1000 ? "999+" : String(count));
  };
  const renderConnection = () => {
    const connection = app.get().connection;
    status.dataset.state = connection;
    setText(status, connectionText[connection] || connection);
  };
  renderConnection();

  const created = {
    links,
    stops: [],
    unreadTimer: null,
    api: {
      main,
      setTitle(title) {
        state.title = title;
        renderTitle();
      },
      refreshUnread: () => scheduleUnread(0),
    },
  };
  // One GET /conversations/count at a time, at most one per 1.5 s however many live events arrive (a pending
  // recount is not pushed back, so a steady stream of events still updates the title).
  let counting = false;
  let again = false;
  const scheduleUnread = (delay = 1500) => {
    if (delay === 0) clearTimeout(created.unreadTimer);
    else if (created.unreadTimer !== null) return;
    created.unreadTimer = setTimeout(countUnread, delay);
  };
  const countUnread = async () => {
    created.unreadTimer = null;
    if (counting) {
      again = true;
      return;
    }
    counting = true;
    try {
      const { count } = await get("/conversations/count", { unread: "true" });
      app.set({ unreadConversations: count });
    } catch (error) {
      console.warn("unread count failed", error);
    } finally {
      counting = false;
      if (again) {
        again = false;
        scheduleUnread();
      }
    }
  };
  created.stops.push(
    app.subscribe((now, before) => {
      if (now.connection !== before.connection) renderConnection();
      if (now.unreadConversations !== before.unreadConversations) renderTitle();
    }),
    onLiveEvent((name) => {
      if (name !== "message.status") scheduleUnread();
    }),
  );
  scheduleUnread(0);
  loadAgents();
  shell = created;
  return created;
}

async function loadAgents() {
  try {
    const answer = await get("/agents");
    app.set({ agents: answer.data || [] });
  } catch (error) {
    console.warn("agents could not be loaded", error);
  }
}

/** An agent's display name from the loaded list. */
export function agentName(id) {
  if (!id) return "";
  const agent = app.get().agents.find((candidate) => candidate.id === id);
  return agent ? agent.name || agent.email : "another agent";
}
