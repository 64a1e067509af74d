// One message as the thread shows it: every type the API stores, reply context, time, ticks, failure reason.

import { h } from "../dom.js";
import { dateTime, time } from "../format.js";
import { agentName } from "../shell.js";
import { typeLabel } from "./chat-list.js";

const ticks = {
  queued: ["◷", "Queued"], sent: ["✓", "Sent"], delivered: ["✓✓", "Delivered"], read: ["✓✓", "Read"],
  played: ["✓✓", "Played"], failed: ["⚠", "Failed"],
};

const reasons = {
  window_closed: "the 24-hour window was closed",
  undeliverable: "WhatsApp could not deliver it to this number",
  template_error: "the template was refused",
  token_invalid: "the channel's access token is no longer valid",
  opted_out: "the contact has opted out",
  invalid_number: "the number is not valid",
  provider_unavailable: "the provider could not be reached",
  provider_error: "the provider refused it",
  provider_url_not_allowed: "the channel's provider address is not allowed",
};

const mediaIcons = { image: "🖼", video: "🎞", audio: "🎵", voice: "🎤", document: "📄", sticker: "🏷" };

/** WhatsApp's *bold*, _italic_, ~strike~ and ```mono``` as elements (text nodes only, never HTML). */
export function formatted(text) {
  const parts = [];
  const pattern = /```([^`]+)```|\*([^*\n]+)\*|_([^_\n]+)_|~([^~\n]+)~/g;
  let at = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > at) parts.push(text.slice(at, match.index));
    const [, mono, bold, italic, strike] = match;
    if (mono !== undefined) parts.push(h("code", null, mono));
    else if (bold !== undefined) parts.push(h("strong", null, bold));
    else if (italic !== undefined) parts.push(h("em", null, italic));
    else parts.push(h("s", null, strike));
    at = match.index + match[0].length;
  }
  if (at < text.length) parts.push(text.slice(at));
  return parts;
}

const textBlock = (text, extra = "") => h("p", { class: `text ${extra}`.trim(), dir: "auto" }, formatted(text));

function body(message, lookup) {
  const content = message.content || {};
  const type = message.type;
  switch (type) {
    case "text":
      return textBlock(message.text || content.body || content.text || "");
    case "image": case "video": case "audio": case "voice": case "document": case "sticker": {
      const media = content.media || content;
      const name = media.filename ? `: ${media.filename}` : "";
      const kind = media.mimeType || media.mime_type;
      return [
        h("p", { class: "media-placeholder" }, h("span", { "aria-hidden": "true" }, mediaIcons[type] || "📎"), " ",
          `${typeLabel(type)}${name}`, kind ? h("span", { class: "muted" }, ` · ${kind}`) : null),
        media.link ? h("p", { class: "muted small" }, "Sent by link: ",
          h("a", { href: media.link, rel: "noopener noreferrer", target: "_blank", dir: "auto" }, media.link)) : null,
        !media.link && message.direction === "inbound"
          ? h("p", { class: "muted small" }, "The file itself is not shown in the console yet.") : null,
        media.caption || message.text ? textBlock(media.caption || message.text) : null,
      ];
    }
    case "location": {
      const { latitude, longitude, name, address } = content;
      const place = [name, address].filter(Boolean).join(" — ");
      const map = latitude !== undefined && longitude !== undefined
        ? `https://www.openstreetmap.org/?mlat=${encodeURIComponent(latitude)}&mlon=${encodeURIComponent(longitude)}#map=16/${encodeURIComponent(latitude)}/${encodeURIComponent(longitude)}`
        : null;
      return h("div", { class: "location" },
        h("p", null, h("span", { "aria-hidden": "true" }, "📍 "), h("span", { dir: "auto" }, place || "Location")),
        map ? h("p", { class: "muted small" }, `${latitude}, ${longitude} · `,
          h("a", { href: map, rel: "noopener noreferrer", target: "_blank" }, "Open map")) : null);
    }
    case "contacts": {
      const cards = Array.isArray(content.contacts) ? content.contacts : [];
      return h("ul", { class: "cards", "aria-label": "Shared contacts" }, cards.map((card) => {
        const name = card.name?.formatted_name || [card.name?.first_name, card.name?.last_name].filter(Boolean).join(" ") || "Contact";
        const phones = (card.phones || []).map((p) => p.phone || p.wa_id).filter(Boolean);
        const emails = (card.emails || []).map((e) => e.email).filter(Boolean);
        return h("li", null, h("span", { class: "card-name", dir: "auto" }, `👤 ${name}`),
          [...phones, ...emails].map((value) => h("span", { class: "muted small", dir: "auto" }, value)));
      }));
    }
    case "button":
      return textBlock(`↩ ${content.text || message.text || ""}`);
    case "reaction": {
      const target = content.messageId ? lookup(content.messageId) : null;
      return h("p", { class: "reaction" },
        content.emoji ? ["Reacted ", h("span", { class: "emoji" }, content.emoji)] : "Removed a reaction",
        target ? [" to ", h("q", { dir: "auto" }, snippet(target))] : null);
    }
    case "interactive": {
      if (content.kind) { // a customer's button or list reply
        return [textBlock(`↩ ${content.title || message.text || ""}`), content.description ? h("p", { class: "muted small", dir: "auto" }, content.description) : null];
      }
      const i = content.interactive || {};
      return h("div", { class: "interactive" },
        i.header ? h("p", { class: "strong", dir: "auto" }, i.header) : null,
        textBlock(i.body || message.text || ""),
        i.footer ? h("p", { class: "muted small", dir: "auto" }, i.footer) : null,
        Array.isArray(i.buttons) && i.buttons.length
          ? h("ul", { class: "choices", "aria-label": "Reply buttons" }, i.buttons.map((b) => h("li", { dir: "auto" }, b.title)))
          : null,
        Array.isArray(i.sections) && i.sections.length
          ? h("div", { class: "choices" }, h("p", { class: "small" }, `☰ ${i.button || "Menu"}`),
            i.sections.map((section) => h("ul", { "aria-label": section.title || "Options" },
              (section.rows || []).map((row) => h("li", { dir: "auto" }, row.title, row.description ? ` — ${row.description}` : "")))))
          : null);
    }
    case "template": {
      const t = content.template || {};
      const params = t.parameters || {};
      const filled = [...(params.header || []), ...(params.body || [])];
      return h("div", { class: "template" },
        h("p", { class: "muted small" }, `Template ${t.name || ""}${t.language ? ` (${t.language})` : ""}`),
        message.text ? textBlock(message.text) : null,
        filled.length ? h("p", { class: "muted small", dir: "auto" }, `Parameters: ${filled.join(", ")}`) : null);
    }
    case "unsupported":
      return h("p", { class: "muted" }, "A message of a type WhatsApp does not let Switchboard show",
        content.raw?.type ? ` (${content.raw.type})` : "", ". Open WhatsApp on the phone to see it.");
    default:
      return message.text ? textBlock(message.text) : h("p", { class: "muted" }, typeLabel(type));
  }
}

export function snippet(message) {
  const text = message.text || typeLabel(message.type);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

/** The element of one message; `lookup(providerMessageId)` finds a loaded message for reply context. */
export function messageView(message, lookup) {
  const outbound = message.direction === "outbound";
  const status = message.status || (outbound ? "queued" : "received");
  const when = message.sentAt || message.recordedAt;
  const replied = message.replyTo ? lookup(message.replyTo) : null;
  const tick = outbound ? ticks[status] : null;
  const failure = status === "failed" ? failureText(message.error) : null;
  return h(
    "div",
    {
      class: `message ${outbound ? "outbound" : "inbound"} status-${status}`,
      dataset: { messageId: message.id, direction: outbound ? "outbound" : "inbound", status },
    },
    message.replyTo
      ? h("blockquote", { class: "reply-to", dir: "auto" }, "↩ ", replied ? snippet(replied) : "Reply to an earlier message")
      : null,
    message.forwarded ? h("p", { class: "muted small" }, "Forwarded") : null,
    body(message, lookup),
    h("p", { class: "meta" },
      outbound && message.senderAgentId ? h("span", null, agentName(message.senderAgentId)) : null,
      h("time", { datetime: when, title: dateTime(when) }, time(when)),
      tick ? h("span", { class: `tick ${status}` }, h("span", { "aria-hidden": "true" }, tick[0]), ` ${tick[1]}`) : null),
    failure ? h("p", { class: "failure" }, failure) : null,
  );
}

export function failureText(error) {
  if (!error) return "Not sent.";
  const why = reasons[error.reason] || error.reason || "the provider refused it";
  const detail = error.message ? ` — ${error.message}` : "";
  const code = error.code ? ` (code ${error.code})` : "";
  return `Not delivered: ${why}${detail}${code}.`;
}
