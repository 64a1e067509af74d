// The composer: Enter sends, Shift+Enter adds a line, a draft per conversation, one Idempotency-Key per send
// (reused when the same send is retried), "/" quick replies; once the WhatsApp window has closed free text is
// blocked and an approved template with its parameters is sent instead.

import { errorText, get, post } from "../api.js";
import { errorSlot, field, h, mount, setText, uid } from "../dom.js";

const draftKey = (id) => `sb.draft.${id}`;

export function createComposer({ onSent }) {
  let conversation = null;
  let channel = "whatsapp";
  let blocked = false;
  let attempt = null; // {fingerprint, key}: the last send that did not get an answer, for a retry
  let sending = false;

  // ---- free text
  const textarea = h("textarea", {
    name: "message", rows: 2, maxlength: 4096, placeholder: "Type a message — / for quick replies",
    "aria-autocomplete": "list", dir: "auto",
  });
  const send = h("button", { type: "submit", class: "button primary" }, "Send");
  const textError = errorSlot();
  const picker = createQuickReplies({
    onPick: insertQuickReply,
    onError: (error) => textError.show(`Quick reply failed: ${errorText(error)}`),
  });
  textarea.setAttribute("aria-controls", picker.id);
  const textLabelId = uid("msg");
  const textForm = h(
    "form",
    { class: "composer-text", onsubmit: (event) => { event.preventDefault(); sendText(); } },
    h("label", { for: textLabelId, class: "visually-hidden" }, "Message"),
    picker.el,
    h("div", { class: "composer-row" }, Object.assign(textarea, { id: textLabelId }), send),
    textError.el,
    h("p", { class: "hint" }, "Enter sends · Shift+Enter adds a line · / opens quick replies"),
  );

  let draftTimer = null;
  textarea.addEventListener("input", () => {
    autosize();
    clearTimeout(draftTimer);
    draftTimer = setTimeout(saveDraft, 300);
    picker.follow(textarea);
  });
  textarea.addEventListener("keydown", (event) => {
    if (picker.handleKey(event, textarea)) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendText();
    }
  });
  textarea.addEventListener("blur", () => setTimeout(() => picker.close(), 150));

  function autosize() {
    textarea.style.height = "auto";
    textarea.style.height = `${Math.min(textarea.scrollHeight, 200)}px`;
  }

  function saveDraft() {
    if (!conversation) return;
    if (textarea.value) sessionStorage.setItem(draftKey(conversation.id), textarea.value);
    else sessionStorage.removeItem(draftKey(conversation.id));
  }

  async function insertQuickReply(reply, range) {
    const answer = await post(`/quick-replies/${encodeURIComponent(reply.id)}/render`, { conversationId: conversation.id });
    const value = textarea.value;
    textarea.value = value.slice(0, range.start) + answer.text + value.slice(range.end);
    const caret = range.start + answer.text.length;
    textarea.focus();
    textarea.setSelectionRange(caret, caret);
    autosize();
    saveDraft();
  }

  // ---- templates (the window has closed)
  const templateSelect = h("select", { name: "template" });
  const params = h("div", { class: "template-params" });
  const preview = h("p", { class: "template-preview", dir: "auto" });
  const templateError = errorSlot();
  const sendTemplate = h("button", { type: "submit", class: "button primary" }, "Send template");
  const templateNote = h("p", { class: "notice" });
  const templateForm = h(
    "form",
    { class: "composer-template", hidden: true, onsubmit: (event) => { event.preventDefault(); submitTemplate(); } },
    templateNote,
    field("Template", templateSelect),
    params,
    preview,
    templateError.el,
    h("div", { class: "composer-row end" }, sendTemplate),
  );
  let templates = [];
  templateSelect.addEventListener("change", renderTemplate);

  const el = h("div", { class: "composer", role: "group", "aria-label": "Reply" }, textForm, templateForm);

  function setSending(value) {
    sending = value;
    send.disabled = value;
    sendTemplate.disabled = value;
    setText(send, value ? "Sending…" : "Send");
    setText(sendTemplate, value ? "Sending…" : "Send template");
  }

  /** Sends `body`, with the key of the previous attempt when it is the same send being retried. */
  async function deliver(body, errors) {
    if (sending) return false;
    const fingerprint = JSON.stringify([conversation.id, body]);
    if (!attempt || attempt.fingerprint !== fingerprint) attempt = { fingerprint, key: crypto.randomUUID() };
    errors.clear();
    setSending(true);
    try {
      const message = await post(`/conversations/${encodeURIComponent(conversation.id)}/messages`, body, {
        headers: { "Idempotency-Key": attempt.key },
      });
      attempt = null;
      onSent(message);
      return true;
    } catch (error) {
      // A refusal keeps the key only for the identical retry; any edit makes a new send.
      errors.show(errorText(error));
      return false;
    } finally {
      setSending(false);
    }
  }

  function withChannel(body) {
    const remembered = conversation.replyChannel || conversation.channel;
    return channel !== remembered ? { ...body, channel } : body;
  }

  async function sendText() {
    if (blocked || !conversation) return;
    const text = textarea.value;
    if (!text.trim()) {
      textError.show("Type a message first.");
      return;
    }
    const id = conversation.id;
    if (await deliver(withChannel({ type: "text", text }), textError)) {
      if (conversation?.id === id) {
        textarea.value = "";
        autosize();
      }
      sessionStorage.removeItem(draftKey(id));
    }
  }

  async function loadTemplates() {
    const whatsappChannel = conversation.replyChannel === "whatsapp"
      ? conversation.replyChannelId || conversation.channelId
      : conversation.channel === "whatsapp" ? conversation.channelId : await findWhatsAppChannel();
    const mine = conversation.id;
    templates = [];
    templateSelect.replaceChildren(h("option", { value: "" }, "Loading templates…"));
    renderTemplate();
    if (!whatsappChannel) {
      templateSelect.replaceChildren(h("option", { value: "" }, "No WhatsApp channel"));
      return;
    }
    try {
      const answer = await get(`/channels/${encodeURIComponent(whatsappChannel)}/templates`);
      if (conversation?.id !== mine) return;
      templates = (answer.data || []).filter((t) => t.status === "APPROVED");
      mount(
        templateSelect,
        templates.length
          ? h("option", { value: "" }, "Choose a template")
          : h("option", { value: "" }, "No approved templates on this channel"),
        templates.map((t) => h("option", { value: t.id }, `${t.name} (${t.language})`)),
      );
    } catch (error) {
      templateSelect.replaceChildren(h("option", { value: "" }, "Templates could not be loaded"));
      templateError.show(`Templates could not be loaded: ${errorText(error)}`);
    }
    renderTemplate();
  }

  async function findWhatsAppChannel() {
    try {
      const channels = (await get("/channels")).data || [];
      return channels.find((c) => c.kind === "whatsapp_cloud")?.id || channels.find((c) => c.kind === "sandbox")?.id || null;
    } catch {
      return null;
    }
  }

  function selectedTemplate() {
    return templates.find((t) => t.id === templateSelect.value) || null;
  }

  function renderTemplate() {
    const template = selectedTemplate();
    params.replaceChildren();
    preview.textContent = "";
    sendTemplate.disabled = !template || sending;
    if (!template) return;
    const counts = template.parameters || { header: 0, body: 0, buttons: [] };
    const input = (label, group, index, button) => {
      const control = h("input", { type: "text", dataset: { group, index, button: button ?? "" }, autocomplete: "off", dir: "auto" });
      control.addEventListener("input", renderPreview);
      return field(label, control);
    };
    for (let i = 1; i <= (counts.header || 0); i += 1) params.append(input(`Header parameter ${i}`, "header", i));
    for (let i = 1; i <= (counts.body || 0); i += 1) params.append(input(`Body parameter ${i}`, "body", i));
    (counts.buttons || []).forEach((count, b) => {
      for (let i = 1; i <= count; i += 1) params.append(input(`Button ${b + 1} parameter ${i}`, "buttons", i, b));
    });
    renderPreview();
  }

  function values(group, button) {
    return [...params.querySelectorAll("input")]
      .filter((i) => i.dataset.group === group && (button === undefined || i.dataset.button === String(button)))
      .sort((a, b) => Number(a.dataset.index) - Number(b.dataset.index))
      .map((i) => i.value);
  }

  function renderPreview() {
    const template = selectedTemplate();
    if (!template) return;
    const bodyText = (Array.isArray(template.components) ? template.components : [])
      .find((c) => String(c.type).toUpperCase() === "BODY")?.text || "";
    const filled = values("body");
    preview.textContent = bodyText
      ? `Preview: ${bodyText.replace(/\{\{(\d+)\}\}/g, (all, n) => filled[Number(n) - 1] || `{{${n}}}`)}`
      : "";
  }

  async function submitTemplate() {
    const template = selectedTemplate();
    if (!template) {
      templateError.show("Choose a template first.");
      return;
    }
    const inputs = [...params.querySelectorAll("input")];
    const empty = inputs.find((i) => !i.value.trim());
    if (empty) {
      templateError.show("Fill in every parameter of the template.");
      empty.focus();
      return;
    }
    const parameters = {};
    const header = values("header");
    const body = values("body");
    const buttons = (template.parameters?.buttons || []).map((count, b) => values("buttons", b));
    if (header.length) parameters.header = header;
    if (body.length) parameters.body = body;
    if (buttons.some((b) => b.length)) parameters.buttons = buttons;
    const sent = await deliver(withChannel({
      type: "template", template: { name: template.name, language: template.language, parameters },
    }), templateError);
    if (sent) for (const i of inputs) i.value = "";
    renderPreview();
  }

  function renderMode() {
    textForm.hidden = blocked;
    templateForm.hidden = !blocked;
    textarea.disabled = blocked;
    if (blocked) {
      setText(templateNote, conversation.window?.expiresAt
        ? "The 24-hour window has closed: WhatsApp only delivers an approved template until the contact writes again."
        : "The contact has not written on WhatsApp yet: start with an approved template.");
      loadTemplates();
    }
  }

  return {
    el,
    /** Shows a conversation: its draft, and free text or templates for the channel chosen in the header. */
    show(next, chosenChannel, windowClosed) {
      const changed = !conversation || conversation.id !== next.id;
      if (changed && conversation) saveDraft();
      conversation = next;
      channel = chosenChannel;
      const wasBlocked = blocked;
      blocked = windowClosed;
      if (changed) {
        attempt = null;
        textError.clear();
        templateError.clear();
        picker.close();
        textarea.value = sessionStorage.getItem(draftKey(next.id)) || "";
        autosize();
      }
      if (changed || wasBlocked !== blocked) renderMode();
    },
    focus() {
      if (!blocked) textarea.focus();
      else templateSelect.focus();
    },
    /** The "/" shortcut: focus the composer and open the quick replies. */
    openQuickReplies() {
      if (blocked || !conversation) return;
      textarea.focus();
      const at = textarea.selectionStart;
      const before = textarea.value.slice(0, at);
      const insert = before === "" || /\s$/.test(before) ? "/" : " /";
      textarea.setRangeText(insert, at, textarea.selectionEnd, "end");
      picker.follow(textarea);
    },
    cleanup() {
      saveDraft();
      clearTimeout(draftTimer);
    },
  };
}

/** The "/" picker: filters by shortcut and content, ↑/↓ to move, Enter or Tab to insert, Esc to close. */
function createQuickReplies({ onPick, onError }) {
  const id = uid("quick");
  const list = h("ul", { id, role: "listbox", "aria-label": "Quick replies", class: "quick-list" });
  const empty = h("p", { class: "quick-empty hint", role: "status" });
  const el = h("div", { class: "quick-replies", hidden: true }, list, empty);
  let replies = null; // loaded once per page
  let loadedAt = 0;
  let shown = [];
  let active = 0;
  let range = null; // the "/query" being typed: {start, end}
  let owner = null;

  async function load() {
    if (replies && Date.now() - loadedAt < 60e3) return replies;
    const answer = await get("/quick-replies");
    replies = answer.data || [];
    loadedAt = Date.now();
    return replies;
  }

  function close() {
    el.hidden = true;
    range = null;
    owner?.removeAttribute("aria-activedescendant");
  }

  async function follow(textarea) {
    owner = textarea;
    const caret = textarea.selectionStart;
    const before = textarea.value.slice(0, caret);
    const match = /(^|\s)\/([^\s/]*)$/.exec(before);
    if (!match || textarea.selectionEnd !== caret) {
      close();
      return;
    }
    const start = caret - match[2].length - 1;
    range = { start, end: caret };
    let all;
    try {
      all = await load();
    } catch (error) {
      close();
      onError(error);
      return;
    }
    if (!range) return;
    const query = match[2].toLowerCase();
    shown = all.filter((r) => !query || r.shortcut.toLowerCase().includes(query) || r.content.toLowerCase().includes(query));
    active = 0;
    render();
  }

  function render() {
    el.hidden = false;
    mount(list, shown.map((reply, index) => h(
      "li",
      {
        id: `${id}-${index}`, role: "option", "aria-selected": String(index === active), class: "quick-option",
        onmousedown: (event) => { event.preventDefault(); pick(index); },
      },
      h("span", { class: "quick-shortcut" }, reply.shortcut),
      h("span", { class: "quick-content", dir: "auto" }, reply.content),
    )));
    setText(empty, shown.length ? "" : replies?.length ? "No quick reply matches." : "No quick replies yet.");
    if (shown.length) {
      owner?.setAttribute("aria-activedescendant", `${id}-${active}`);
      list.children[active]?.scrollIntoView({ block: "nearest" });
    } else {
      owner?.removeAttribute("aria-activedescendant");
    }
  }

  async function pick(index) {
    const reply = shown[index];
    const at = range;
    if (!reply || !at) return;
    close();
    try {
      await onPick(reply, at);
    } catch (error) {
      onError(error);
    }
  }

  return {
    id,
    el,
    close,
    follow,
    /** Keys while the picker is open; true when the key was the picker's. */
    handleKey(event) {
      if (el.hidden) return false;
      if (event.key === "Escape") {
        event.preventDefault();
        close();
        return true;
      }
      if (!shown.length) return false;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        active = (active + (event.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
        render();
        return true;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        pick(active);
        return true;
      }
      return false;
    },
  };
}
