// The Chat page: the conversation list, the open conversation and the contact panel, kept live by the stream.

import { errorText, get, post } from "../api.js";
import { h, mount } from "../dom.js";
import { onLiveEvent } from "../live.js";
import { navigate } from "../router.js";
import { bind } from "../shortcuts.js";
import { app } from "../store.js";
import { createList } from "./chat-list.js";
import { createThread } from "./chat-thread.js";
import { createContactPanel } from "./contact-panel.js";

export function chatScreen(main, params, shell) {
  shell.setTitle("Chat");
  const me = app.get().session?.agent?.id || null;
  const list = createList({ me });
  // Below 1200 px the contact panel is a drawer over the conversation, opened from its header.
  const setContactOpen = (open) => {
    root.classList.toggle("contact-open", open);
    thread.contactExpanded(open);
    if (!open) thread.focusContactToggle();
  };
  const panel = createContactPanel({ onClose: () => setContactOpen(false) });
  const thread = createThread({
    me,
    onChanged: (conversation) => changed(conversation),
    onToggleContact: (open) => setContactOpen(open),
  });
  const root = h("div", { class: "chat" }, list.el, thread.el, panel.el);
  mount(main, root);

  let openId = null;
  let readTimer = null;

  /** A conversation as the API answers it now: the list, the header and the composer follow. */
  function changed(conversation) {
    list.upsert(conversation);
    thread.update(conversation);
    if (conversation.id === openId) maybeMarkRead(conversation);
  }

  function maybeMarkRead(conversation) {
    clearTimeout(readTimer);
    if (!(conversation.unreadCount > 0) || document.visibilityState !== "visible") return;
    readTimer = setTimeout(async () => {
      try {
        changed(await post(`/conversations/${encodeURIComponent(conversation.id)}/read`));
        shell.refreshUnread();
      } catch (error) {
        console.warn("mark read failed", errorText(error));
      }
    }, 400);
  }

  async function show(id) {
    openId = id || null;
    root.dataset.view = id ? "thread" : "list";
    list.setCurrent(openId);
    if (!id) {
      thread.close();
      panel.clear();
      return;
    }
    const known = list.conversation(id);
    if (known) start(known);
    try {
      const conversation = await get(`/conversations/${encodeURIComponent(id)}`);
      if (openId !== id) return;
      if (!known) start(conversation);
      changed(conversation);
    } catch (error) {
      if (openId !== id) return;
      thread.close();
      mount(thread.el.querySelector(".thread-empty"),
        h("p", { class: "error", role: "alert" },
          error.status === 404 ? "This conversation does not exist (or belongs to another organisation)." : errorText(error)),
        h("p", null, h("a", { href: "/chat" }, "Back to the conversations")));
    }
  }

  function start(conversation) {
    thread.open(conversation);
    panel.show(conversation);
    maybeMarkRead(conversation);
  }

  // Live events: the conversations they touch are fetched again once per burst, with one refresh in flight at a
  // time (touches meanwhile wait for the next). A few are fetched one by one; a burst of many costs one request,
  // the first page of the list (where they all move under the newest-activity order), plus the open conversation
  // and rows shown further down that the page did not cover (at most FEW): the page keeps up with any event rate.
  const FEW = 4;
  const pending = new Set();
  let flushTimer = null;
  let flushing = false;
  const touch = (id) => {
    if (!id) return;
    pending.add(id);
    if (!flushing) flushTimer ??= setTimeout(flush, 120);
  };
  const refetch = async (id) => {
    try {
      changed(await get(`/conversations/${encodeURIComponent(id)}`));
    } catch (error) {
      if (error.status === 404) list.remove(id);
      else console.warn("a live update could not be applied", error);
    }
  };
  async function flush() {
    flushTimer = null;
    flushing = true;
    const ids = [...pending];
    pending.clear();
    try {
      if (ids.length <= FEW) {
        await Promise.all(ids.map(refetch));
      } else {
        let covered = new Set();
        try {
          // Many conversations the page has no row for yet (a busy inbox): a longer page brings them in sooner.
          const unknown = ids.filter((id) => !list.has(id)).length;
          const top = await list.refreshTop(unknown > 2 * FEW ? 200 : undefined);
          covered = new Set(top.map((c) => c.id));
          const open = top.find((c) => c.id === openId);
          if (open) changed(open);
        } catch (error) {
          console.warn("a live update could not be applied", error);
        }
        const rest = ids.filter((id) => !covered.has(id) && (id === openId || list.has(id)));
        await Promise.all(rest.slice(0, FEW).map(refetch));
        for (const id of rest.slice(FEW)) pending.add(id);
      }
    } finally {
      flushing = false;
      if (pending.size) flushTimer ??= setTimeout(flush, 120);
    }
  }
  /** A new message of a listed conversation shows in its row at once, from the event itself (text, type, time); the
   * refresh that follows brings the rest (unread count, status) as the server has them. */
  function shownAtOnce(event) {
    const known = list.conversation(event.conversationId);
    if (!known || typeof event.text !== "string") return;
    const at = new Date(event.at).toISOString();
    if (known.lastActivityAt && known.lastActivityAt > at) return; // an older event (replayed): the row is newer
    const inbound = event.type === "message.received";
    list.upsert({
      ...known,
      lastActivityAt: at,
      lastMessage: { id: event.messageId, direction: inbound ? "inbound" : "outbound", type: event.messageType, text: event.text, at },
      unreadCount: (known.unreadCount || 0) + (inbound && event.conversationId !== openId ? 1 : 0),
      waitingSince: inbound ? known.waitingSince || at : null,
    });
  }

  const stopLive = onLiveEvent((name, data) => {
    if (name === "resync") {
      list.reload({ keep: true });
      thread.resync();
      return;
    }
    if (name === "message.created") shownAtOnce(data);
    touch(data.conversationId);
    if (name === "message.created") thread.messageCreated(data);
    if (name === "message.status") thread.messageStatus(data);
    if (name === "conversation.updated" && data.conversationId === openId) panel.refresh();
  });
  const onVisible = () => {
    const current = thread.current();
    if (document.visibilityState === "visible" && current) maybeMarkRead(list.conversation(current.id) || current);
  };
  document.addEventListener("visibilitychange", onVisible);
  const onEscape = (event) => {
    if (event.key === "Escape" && root.classList.contains("contact-open") && !document.querySelector("dialog[open]")) {
      setContactOpen(false);
    }
  };
  document.addEventListener("keydown", onEscape);

  const step = (delta) => {
    const id = list.neighbour(delta);
    if (id && id !== openId) navigate(`/chat/${encodeURIComponent(id)}`);
  };
  const unbind = [
    bind("j", "Next conversation", () => step(1)),
    bind("k", "Previous conversation", () => step(-1)),
    bind("e", "Resolve", () => { if (openId) thread.resolve(); }),
    bind("/", "Quick replies", () => { if (openId) thread.openQuickReplies(); }),
  ];

  show(params.id);

  return {
    update: (next) => show(next.id),
    cleanup() {
      stopLive();
      unbind.forEach((stop) => stop());
      document.removeEventListener("visibilitychange", onVisible);
      document.removeEventListener("keydown", onEscape);
      clearTimeout(readTimer);
      clearTimeout(flushTimer);
      list.cleanup();
      thread.cleanup();
    },
  };
}
