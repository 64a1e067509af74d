// The conversation header: who, status and its actions, the 24-hour window countdown, the reply channel.

import { errorText, patch, post } from "../api.js";
import { errorSlot, field, h, mount, setText } from "../dom.js";
import { countdown, dateTime } from "../format.js";
import { agentName } from "../shell.js";
import { app } from "../store.js";
import { contactLabel, statusNames } from "./chat-list.js";

const HOUR = 3600e3;

/** The window's state now: open (more than an hour left), closing (the last hour), closed, or none (SMS). */
export function windowState(conversation, channel, now = Date.now()) {
  if (channel === "sms") return { state: "none", left: 0 };
  const expires = conversation.window?.expiresAt ? Date.parse(conversation.window.expiresAt) : 0;
  const left = conversation.window?.open ? expires - now : 0;
  if (left <= 0) return { state: "closed", left: 0 };
  return { state: left <= HOUR ? "closing" : "open", left };
}

export function createHeader({ me, onChanged, onChannel, onToggleContact, onWindow }) {
  let conversation = null;
  let channel = "whatsapp";
  let lastWindow = null;

  const title = h("h2", { class: "thread-title", dir: "auto" });
  const number = h("p", { class: "thread-number muted", dir: "auto" });
  const status = h("span", { class: "status-pill" });
  const assignee = h("span", { class: "muted" });
  const windowText = h("span", { class: "window" });
  const windowLine = h("p", { class: "window-line" }, h("span", { class: "visually-hidden" }, "24-hour window: "), windowText);
  const channelSelect = h("select", { name: "replyChannel" },
    h("option", { value: "whatsapp" }, "WhatsApp"), h("option", { value: "sms" }, "SMS"));
  const channelNote = h("p", { class: "hint channel-note" });
  channelSelect.addEventListener("change", () => {
    channel = channelSelect.value;
    renderChannel();
    onChannel(channel);
  });
  const actions = h("div", { class: "thread-actions", role: "group", "aria-label": "Conversation actions" });
  const error = errorSlot();
  const contactToggle = h("button", {
    type: "button", class: "button small contact-toggle", "aria-expanded": "false", "aria-controls": "contact-panel",
    onclick: () => {
      const open = contactToggle.getAttribute("aria-expanded") !== "true";
      contactToggle.setAttribute("aria-expanded", String(open));
      onToggleContact(open);
    },
  }, "Contact details");

  const assignDialog = createAssignDialog(async (agentId) => run("Assign", () => post(`/conversations/${conversation.id}/assign`, { agentId })));

  const el = h(
    "header",
    { class: "thread-header" },
    h("div", { class: "thread-who" },
      h("a", { href: "/chat", class: "back" }, h("span", { "aria-hidden": "true" }, "← "), "Back to conversations"),
      title, number,
      h("p", { class: "thread-state" }, status, " ", assignee)),
    h("div", { class: "thread-side" },
      windowLine,
      h("div", { class: "channel-switch" }, field("Reply channel", channelSelect), channelNote),
      contactToggle),
    actions,
    error.el,
    assignDialog.el,
  );

  const timer = setInterval(renderWindow, 1000);

  async function run(label, action) {
    error.clear();
    for (const button of actions.querySelectorAll("button")) button.disabled = true;
    try {
      const updated = await action();
      if (updated) onChanged(updated);
      return true;
    } catch (failure) {
      error.show(`${label} failed: ${errorText(failure)}`);
      return false;
    } finally {
      for (const button of actions.querySelectorAll("button")) button.disabled = false;
    }
  }

  const id = () => conversation.id;
  const verbs = {
    assignMe: ["Assign to me", () => run("Assign to me", () => post(`/conversations/${id()}/assign`, { agentId: "me" }))],
    assign: ["Assign…", () => assignDialog.open(conversation.assigneeId)],
    unassign: ["Unassign", () => run("Unassign", () => post(`/conversations/${id()}/unassign`))],
    resolve: ["Resolve", () => resolve()],
    reopen: ["Reopen", () => run("Reopen", () => post(`/conversations/${id()}/reopen`))],
    bot: ["Hand to bot", () => run("Hand to bot", () => patch(`/conversations/${id()}`, { status: "BOT_ACTIVE" }))],
    ai: ["Hand to AI", () => run("Hand to AI", () => patch(`/conversations/${id()}`, { status: "AI_ACTIVE" }))],
    takeOver: ["Take over", () => run("Take over", () => me
      ? post(`/conversations/${id()}/assign`, { agentId: "me" })
      : patch(`/conversations/${id()}`, { status: "OPEN" }))],
    restore: ["Restore", () => run("Restore", () => post(`/conversations/${id()}/restore`))],
  };

  function resolve() {
    if (!conversation || conversation.status === "RESOLVED") return Promise.resolve(false);
    return run("Resolve", () => post(`/conversations/${id()}/resolve`));
  }

  function available(c) {
    if (c.deletedAt) return ["restore"];
    switch (c.status) {
      case "OPEN": return [me && "assignMe", "assign", "resolve", "bot", "ai"];
      case "ASSIGNED": return [me && c.assigneeId !== me && "assignMe", "assign", "unassign", "resolve", "bot", "ai"];
      case "BOT_ACTIVE": return ["takeOver", "assign", "ai", "resolve"];
      case "AI_ACTIVE": return ["takeOver", "assign", "bot", "resolve"];
      case "RESOLVED": return ["reopen"];
      default: return [];
    }
  }

  function renderActions() {
    const keys = available(conversation).filter(Boolean);
    mount(actions, keys.map((key) => {
      const [label, act] = verbs[key];
      return h("button", { type: "button", class: `button small${key === "resolve" ? " primary" : ""}`, onclick: act }, label);
    }));
  }

  function renderWindow() {
    if (!conversation) return;
    const { state, left } = windowState(conversation, channel);
    windowText.dataset.window = state;
    windowText.className = `window ${state}`;
    const closedAt = conversation.window?.expiresAt;
    if (state === "none") setText(windowText, "No 24-hour window on SMS");
    else if (state === "closed") setText(windowText, "Window closed");
    else setText(windowText, `${countdown(left)} left`);
    windowText.title = closedAt ? `${state === "closed" ? "Closed" : "Closes"} ${dateTime(closedAt)}` : "The contact has not written on WhatsApp yet";
    if (state !== lastWindow) {
      const previous = lastWindow;
      lastWindow = state;
      if (previous !== null) onWindow(state);
    }
  }

  function renderChannel() {
    channelSelect.value = channel;
    const remembered = conversation.replyChannel || conversation.channel;
    setText(channelNote, channel === remembered
      ? `The next message goes by ${channel === "sms" ? "SMS" : "WhatsApp"}.`
      : `The next message goes by ${channel === "sms" ? "SMS" : "WhatsApp"} (this conversation last used ${remembered === "sms" ? "SMS" : "WhatsApp"}).`);
    lastWindow = null;
    renderWindow();
  }

  function render() {
    const name = contactLabel(conversation);
    setText(title, name);
    const contact = conversation.contact || {};
    setText(number, [contact.name ? contact.phone : null, contact.whatsappUsername ? `@${contact.whatsappUsername}` : null]
      .filter(Boolean).join(" · "));
    status.dataset.conversationStatus = conversation.status;
    status.className = `status-pill ${conversation.status.toLowerCase()}`;
    setText(status, conversation.deletedAt ? `${statusNames[conversation.status] || conversation.status} · in the trash`
      : statusNames[conversation.status] || conversation.status);
    setText(assignee, conversation.assigneeId
      ? `Assigned to ${conversation.assigneeId === me ? "you" : agentName(conversation.assigneeId)}` : "");
    renderActions();
    renderChannel();
  }

  const stopAgents = app.subscribe((now, before) => {
    if (now.agents !== before.agents && conversation) render();
  });

  return {
    el,
    /** A conversation newly opened: the channel choice starts at the conversation's reply channel. */
    show(next) {
      const changed = !conversation || conversation.id !== next.id;
      conversation = next;
      if (changed) {
        channel = next.replyChannel || next.channel;
        error.clear();
        lastWindow = null;
      }
      render();
    },
    channel: () => channel,
    resolve,
    showError: (text) => error.show(text),
    contactExpanded: (open) => contactToggle.setAttribute("aria-expanded", String(open)),
    focusContactToggle: () => {
      if (contactToggle.offsetParent !== null) contactToggle.focus();
    },
    cleanup() {
      clearInterval(timer);
      stopAgents();
    },
  };
}

function createAssignDialog(onAssign) {
  const agentSelect = h("select", { name: "agent" });
  const error = errorSlot();
  const submit = h("button", { type: "submit", class: "button primary" }, "Assign");
  const cancel = h("button", { type: "button", class: "button", onclick: () => el.close() }, "Cancel");
  const el = h(
    "dialog",
    { class: "dialog", "aria-labelledby": "assign-title" },
    h("form", {
      method: "dialog",
      onsubmit: async (event) => {
        event.preventDefault();
        if (!agentSelect.value) return;
        submit.disabled = true;
        const ok = await onAssign(agentSelect.value);
        submit.disabled = false;
        if (ok) el.close();
        else error.show("The conversation could not be assigned: see the message above.");
      },
    },
    h("h2", { id: "assign-title" }, "Assign conversation"),
    field("Agent", agentSelect),
    error.el,
    h("div", { class: "dialog-actions" }, cancel, submit)),
  );
  return {
    el,
    open(current) {
      error.clear();
      const agents = app.get().agents;
      agentSelect.replaceChildren(...agents.map((agent) =>
        h("option", { value: agent.id }, `${agent.name || agent.email}${agent.role === "admin" ? " (admin)" : ""}`)));
      if (agents.length === 0) {
        agentSelect.append(h("option", { value: "" }, "No agents in this organisation"));
      }
      if (current) agentSelect.value = current;
      el.showModal();
      agentSelect.focus();
    },
  };
}
