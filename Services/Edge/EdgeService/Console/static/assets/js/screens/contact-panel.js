// The contact side panel: identity, tags, consent with its proof, attributes (Click-to-WhatsApp touches), and
// the contact's earlier conversations.

import { del, errorText, get, post } from "../api.js";
import { errorSlot, h, mount, setText } from "../dom.js";
import { dateTime, shortWhen } from "../format.js";
import { statusNames } from "./chat-list.js";

const actorName = (actor) => (actor ? actor.name || actor.kind || "" : "");

export function createContactPanel({ onClose }) {
  let contact = null;
  let conversationId = null;
  let generation = 0;

  const identity = h("div", { class: "panel-section" });
  const tags = h("ul", { class: "tags", "aria-label": "Tags" });
  const tagInput = h("input", { type: "text", name: "tag", maxlength: 64, autocomplete: "off", id: "add-tag" });
  const tagError = errorSlot();
  const tagForm = h(
    "form",
    { class: "tag-form", onsubmit: (event) => { event.preventDefault(); addTag(); } },
    h("label", { for: "add-tag" }, "Add tag"),
    h("div", { class: "composer-row" }, tagInput, h("button", { type: "submit", class: "button small" }, "Add")),
  );
  const consent = h("input", { type: "checkbox", role: "switch", id: "opted-in" });
  consent.addEventListener("change", changeConsent);
  const consentProof = h("p", { class: "hint" });
  const consentError = errorSlot();
  const attributes = h("div", { class: "panel-section" });
  const earlier = h("div", { class: "panel-section" });
  const loadError = errorSlot();

  const nothing = h("p", { class: "muted small" }, "Open a conversation to see its contact here.");
  const details = h("div", { class: "panel-details", hidden: true });
  const el = h(
    "aside",
    { class: "pane contact-pane", "aria-label": "Contact", id: "contact-panel" },
    h("div", { class: "panel-head" }, h("h2", { class: "panel-title" }, "Contact"),
      h("button", { type: "button", class: "button small panel-close", onclick: onClose }, "Close")),
    nothing,
    loadError.el,
    details,
  );
  details.append(
    identity,
    h("section", { class: "panel-section", "aria-labelledby": "tags-title" },
      h("h3", { id: "tags-title" }, "Tags"), tags, tagForm, tagError.el),
    h("section", { class: "panel-section", "aria-labelledby": "consent-title" },
      h("h3", { id: "consent-title" }, "Consent"),
      h("label", { class: "check switch", for: "opted-in" }, consent, "Opted in"),
      consentProof, consentError.el),
    attributes,
    earlier,
  );

  function render() {
    const c = contact;
    nothing.hidden = true;
    details.hidden = false;
    mount(identity,
      h("p", { class: "panel-name", dir: "auto" }, c.name || c.phone || "Unnamed contact"),
      h("dl", { class: "facts" },
        fact("Phone", c.phone), fact("WhatsApp id", c.whatsappUserId),
        fact("WhatsApp name", c.whatsappUsername ? `@${c.whatsappUsername}` : null), fact("Email", c.email),
        fact("Added", c.createdAt ? dateTime(c.createdAt) : null)));
    mount(tags, (c.tags || []).length
      ? c.tags.map((tag) => h("li", { class: "tag" }, h("span", { dir: "auto" }, tag),
        h("button", { type: "button", class: "tag-remove", "aria-label": `Remove tag ${tag}`, onclick: () => removeTag(tag) }, "×")))
      : h("li", { class: "muted small" }, "No tags"));
    consent.checked = Boolean(c.optedIn);
    setText(consentProof, proofText(c));
    renderAttributes();
  }

  function proofText(c) {
    const proof = c.optInProof;
    if (!c.optInSource && !proof) return c.optedIn ? "Opted in." : "No consent recorded: messages cannot be sent.";
    const bits = [`${c.optedIn ? "Opted in" : "Opted out"}${c.optInSource ? ` (source: ${c.optInSource})` : ""}`];
    if (proof?.timestamp) bits.push(`on ${dateTime(proof.timestamp)}`);
    if (proof?.actor) bits.push(`by ${actorName(proof.actor)}`);
    let text = `${bits.join(" ")}.`;
    if (proof?.messageId) text += " Proof: the contact's message.";
    if (proof?.importJobId) text += " Proof: a contact import.";
    if (proof?.note) text += ` Note: ${proof.note}`;
    return text;
  }

  function renderAttributes() {
    const all = contact.attributes || {};
    const { ctwa, ...rest } = all;
    const parts = [h("h3", null, "Attributes")];
    const keys = Object.keys(rest);
    parts.push(keys.length
      ? h("dl", { class: "facts" }, keys.sort().map((key) => fact(key, display(rest[key]))))
      : h("p", { class: "muted small" }, "No attributes"));
    if (ctwa && typeof ctwa === "object") {
      parts.push(h("h3", null, "Click-to-WhatsApp ad"));
      for (const [label, touch] of [["First touch", ctwa.firstTouch], ["Last touch", ctwa.lastTouch]]) {
        if (!touch) continue;
        parts.push(h("p", { class: "small strong" }, label), h("dl", { class: "facts" },
          fact("Ad", touch.headline), fact("Source", touch.sourceUrl ? link(touch.sourceUrl) : null),
          fact("Source id", touch.sourceId), fact("Type", touch.sourceType),
          fact("When", touch.at ? dateTime(touch.at) : null)));
      }
    }
    mount(attributes, parts);
  }

  async function loadEarlier(mine) {
    try {
      const answer = await get("/conversations", { contactId: contact.id, limit: 20 });
      if (mine !== generation) return;
      const others = (answer.data || []).filter((c) => c.id !== conversationId);
      mount(earlier, h("h3", null, "Earlier conversations"), others.length
        ? h("ul", { class: "earlier" }, others.map((c) => h("li", null, h("a", { href: `/chat/${encodeURIComponent(c.id)}` },
          `${statusNames[c.status] || c.status} · ${c.channel === "sms" ? "SMS" : "WhatsApp"} · ${shortWhen(c.lastActivityAt)}`),
        c.lastMessage?.text ? h("span", { class: "muted small", dir: "auto" }, c.lastMessage.text) : null)))
        : h("p", { class: "muted small" }, "None"));
    } catch (error) {
      if (mine === generation) mount(earlier, h("h3", null, "Earlier conversations"),
        h("p", { class: "error", role: "alert" }, `Earlier conversations could not be loaded: ${errorText(error)}`));
    }
  }

  async function addTag() {
    tagError.clear();
    const tag = tagInput.value.trim();
    if (!tag) return;
    try {
      contact = await post(`/contacts/${encodeURIComponent(contact.id)}/tags`, { tags: [tag] });
      tagInput.value = "";
      render();
    } catch (error) {
      tagError.show(`The tag could not be added: ${errorText(error)}`);
    }
  }

  async function removeTag(tag) {
    tagError.clear();
    try {
      contact = await del(`/contacts/${encodeURIComponent(contact.id)}/tags/${encodeURIComponent(tag)}`);
      render();
    } catch (error) {
      tagError.show(`The tag could not be removed: ${errorText(error)}`);
    }
  }

  async function changeConsent() {
    consentError.clear();
    const optedIn = consent.checked;
    consent.disabled = true;
    try {
      contact = await post(`/contacts/${encodeURIComponent(contact.id)}/consent`, {
        optedIn, source: "agent", note: "changed in the console",
      });
      render();
    } catch (error) {
      consent.checked = !optedIn;
      consentError.show(`Consent could not be recorded: ${errorText(error)}`);
    } finally {
      consent.disabled = false;
    }
  }

  return {
    el,
    async show(conversation) {
      const contactId = conversation.contact?.id;
      conversationId = conversation.id;
      if (contact?.id === contactId) {
        loadEarlier(generation);
        return;
      }
      generation += 1;
      const mine = generation;
      loadError.clear();
      el.classList.add("loading");
      try {
        const loaded = await get(`/contacts/${encodeURIComponent(contactId)}`);
        if (mine !== generation) return;
        contact = loaded;
        render();
        loadEarlier(mine);
      } catch (error) {
        if (mine === generation) loadError.show(`The contact could not be loaded: ${errorText(error)}`);
      } finally {
        if (mine === generation) el.classList.remove("loading");
      }
    },
    /** Reload after a change elsewhere (consent via STOP, tags from rules). */
    async refresh() {
      if (!contact) return;
      try {
        contact = await get(`/contacts/${encodeURIComponent(contact.id)}`);
        render();
      } catch {
        // the next open shows it
      }
    },
    contactId: () => contact?.id,
    /** No conversation open. */
    clear() {
      generation += 1;
      contact = null;
      loadError.clear();
      details.hidden = true;
      nothing.hidden = false;
    },
  };
}

function fact(label, value) {
  if (value === null || value === undefined || value === "") return null;
  return [h("dt", null, label), h("dd", { dir: "auto" }, value)];
}

function display(value) {
  if (value === null || value === undefined) return "—";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function link(url) {
  return /^https?:\/\//i.test(url) ? h("a", { href: url, rel: "noopener noreferrer", target: "_blank" }, url) : url;
}
