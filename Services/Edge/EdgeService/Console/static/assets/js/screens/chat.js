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

  // Live events: refetch each touched conversation once per burst.
  const pending = new Set();
  let flushTimer = null;
  const touch = (id) => {
    if (!id) return;
    pending.add(id);
    flushTimer ??= setTimeout(flush, 120);
  };
  async function flush() {
    flushTimer = null;
    const ids = [...pending];
    pending.clear();
    await Promise.all(ids.map(async (id) => {
      try {
        changed(await get(`/conversations/${encodeURIComponent(id)}`));
      } catch (error) {
        if (error.status === 404) list.remove(id);
        else console.warn("a live update could not be applied", error);
      }
    }));
  }
  const stopLive = onLiveEvent((name, data) => {
    if (name === "resync") {
      list.reload({ keep: true });
      thread.resync();
      return;
    }
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
