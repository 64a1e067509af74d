// The open conversation: header, the messages (older ones load on scroll up, new ones arrive live), composer.

import { errorText, get } from "../api.js";
import { errorSlot, h, setText } from "../dom.js";
import { longDay, sameDay } from "../format.js";
import { createComposer } from "./composer.js";
import { createHeader, windowState } from "./chat-header.js";
import { messageView } from "./message-view.js";

const PAGE = 30;
const rank = { queued: 0, sent: 1, delivered: 2, read: 3, played: 4 };

export function createThread({ me, onChanged, onToggleContact }) {
  let conversation = null;
  let messages = new Map(); // id → message
  let cursor = null; // older messages
  let loadingOlder = false;
  let generation = 0;
  let refreshing = null; // the latest-page fetch in flight
  let refreshAgain = false;
  const views = new Map(); // id → {message, el}

  const header = createHeader({
    me,
    onChanged,
    onChannel: () => syncComposer(),
    onToggleContact,
    onWindow: () => syncComposer(),
  });
  const composer = createComposer({
    onSent(message) {
      merge([message]);
      render({ stick: true });
    },
  });
  const topState = h("p", { class: "thread-top muted small" });
  const olderError = errorSlot();
  const list = h("div", { class: "message-list" });
  const scroller = h(
    "section",
    { class: "messages", "aria-label": "Messages", tabindex: "0" },
    h("div", { class: "thread-top-wrap" }, topState, olderError.el),
    list,
  );
  const empty = h("div", { class: "thread-empty" }, h("p", null, "Choose a conversation from the list."),
    h("p", { class: "hint" }, "J and K move through the list; ? lists every shortcut."));
  const body = h("div", { class: "thread-body", hidden: true }, header.el, scroller, composer.el);
  const el = h("section", { class: "pane thread-pane", "aria-label": "Conversation" }, empty, body);

  const observer = new IntersectionObserver(
    (entries) => {
      if (entries.some((entry) => entry.isIntersecting) && cursor && !loadingOlder) loadOlder();
    },
    { root: scroller, rootMargin: "150px" },
  );
  observer.observe(topState);

  function syncComposer() {
    if (!conversation) return;
    const channel = header.channel();
    composer.show(conversation, channel, windowState(conversation, channel).state === "closed");
  }

  const lookup = (providerId) => {
    for (const message of messages.values()) if (message.providerMessageId === providerId) return message;
    return null;
  };

  function merge(items) {
    for (const message of items) {
      const known = messages.get(message.id);
      // Delivery statuses only move forward; a late page must not take a tick back.
      if (known && message.status !== "failed" && known.status !== "failed"
        && (rank[known.status] ?? -1) > (rank[message.status] ?? -1)) continue;
      const merged = { ...known, ...message };
      if (!known || JSON.stringify(known) !== JSON.stringify(merged)) messages.set(message.id, merged);
    }
  }

  const sortKey = (m) => `${m.recordedAt || m.sentAt || ""}|${m.id}`;

  function render({ stick = false, keepFromBottom = false } = {}) {
    const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    const sorted = [...messages.values()].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1));
    const children = [];
    let previous = null;
    for (const message of sorted) {
      const at = message.sentAt || message.recordedAt;
      if (at && (!previous || !sameDay(previous, at))) {
        children.push(h("p", { class: "day", role: "separator" }, longDay(at)));
      }
      if (at) previous = at;
      let view = views.get(message.id);
      if (!view || view.message !== message) {
        view = { message, el: messageView(message, lookup) };
        views.set(message.id, view);
      }
      children.push(view.el);
    }
    list.replaceChildren(...children);
    setText(topState, cursor ? "Loading older messages…" : sorted.length ? "The start of this conversation." : "No messages yet.");
    if (keepFromBottom) scroller.scrollTop = scroller.scrollHeight - fromBottom;
    else if (stick || nearBottom) scroller.scrollTop = scroller.scrollHeight;
  }

  async function open(next) {
    generation += 1;
    const mine = generation;
    conversation = next;
    messages = new Map();
    views.clear();
    cursor = null;
    olderError.clear();
    empty.hidden = true;
    body.hidden = false;
    header.show(next);
    syncComposer();
    list.replaceChildren();
    setText(topState, "Loading messages…");
    try {
      const page = await get(`/conversations/${encodeURIComponent(next.id)}/messages`, { limit: PAGE });
      if (mine !== generation) return;
      merge(page.data);
      cursor = page.nextCursor;
      render({ stick: true });
      // A short first page may not fill the pane: the observer loads more while the top is in view.
    } catch (error) {
      if (mine !== generation) return;
      setText(topState, "");
      olderError.show(`Messages could not be loaded: ${errorText(error)}`);
    }
  }

  async function loadOlder() {
    if (!cursor || loadingOlder || !conversation) return;
    const mine = generation;
    loadingOlder = true;
    olderError.clear();
    try {
      const page = await get(`/conversations/${encodeURIComponent(conversation.id)}/messages`, { limit: PAGE, cursor });
      if (mine !== generation) return;
      merge(page.data);
      cursor = page.nextCursor;
      render({ keepFromBottom: true });
    } catch (error) {
      if (mine === generation) olderError.show(`Older messages could not be loaded: ${errorText(error)}`);
    } finally {
      if (mine === generation) loadingOlder = false;
    }
  }

  /** New messages or statuses: fetch the newest page (one fetch at a time; a burst makes one more). */
  async function refreshLatest() {
    if (!conversation) return;
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    const mine = generation;
    refreshing = (async () => {
      try {
        const page = await get(`/conversations/${encodeURIComponent(conversation.id)}/messages`, { limit: PAGE });
        if (mine !== generation) return;
        merge(page.data);
        render();
      } catch (error) {
        if (mine === generation) olderError.show(`New messages could not be loaded: ${errorText(error)}`);
      }
    })();
    await refreshing;
    refreshing = null;
    if (refreshAgain) {
      refreshAgain = false;
      refreshLatest();
    }
  }

  return {
    el,
    current: () => conversation,
    open,
    /** The conversation changed (an action, a live event): header and composer follow. */
    update(next) {
      if (!conversation || conversation.id !== next.id) return;
      conversation = next;
      header.show(next);
      syncComposer();
    },
    close() {
      generation += 1;
      conversation = null;
      messages = new Map();
      views.clear();
      body.hidden = true;
      empty.hidden = false;
    },
    messageCreated(event) {
      if (conversation && event.conversationId === conversation.id) refreshLatest();
    },
    messageStatus(event) {
      if (!conversation || event.conversationId !== conversation.id) return;
      const known = messages.get(event.messageId);
      if (!known || event.status === "failed") {
        refreshLatest(); // a failure's error text comes with the message
        return;
      }
      merge([{ ...known, status: event.status }]);
      render();
    },
    resync() {
      if (conversation) refreshLatest();
    },
    resolve: () => header.resolve(),
    contactExpanded: (open) => header.contactExpanded(open),
    focusContactToggle: () => header.focusContactToggle(),
    focusComposer: () => composer.focus(),
    openQuickReplies: () => composer.openQuickReplies(),
    cleanup() {
      observer.disconnect();
      header.cleanup();
      composer.cleanup();
    },
  };
}
