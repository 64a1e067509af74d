// Single-key shortcuts (J/K, E, /, ?). None fires while the agent is typing or with a modifier held.

import { h } from "./dom.js";

const bindings = new Map(); // key → {description, run}
let dialog = null;

/** bind("j", "Next conversation", fn) → unbind. Screens bind what they offer while they are shown. */
export function bind(key, description, run) {
  const entry = { description, run };
  bindings.set(key, entry);
  return () => {
    if (bindings.get(key) === entry) bindings.delete(key);
  };
}

export function isTyping(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  if (target.closest("dialog[open]") && target !== document.body) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag === "INPUT") {
    const type = (target.getAttribute("type") || "text").toLowerCase();
    return !["checkbox", "radio", "button", "submit", "reset"].includes(type);
  }
  return false;
}

function onKey(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
  if (isTyping(event.target) || document.querySelector("dialog[open]")) return;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  if (key === "?") {
    event.preventDefault();
    showHelp();
    return;
  }
  const entry = bindings.get(key);
  if (!entry) return;
  event.preventDefault();
  entry.run(event);
}

const fixed = [
  ["J", "Next conversation"],
  ["K", "Previous conversation"],
  ["E", "Resolve the open conversation"],
  ["/", "Quick replies (in the composer)"],
  ["?", "This list"],
  ["Enter", "Send (in the composer)"],
  ["Shift + Enter", "New line (in the composer)"],
  ["Esc", "Close a picker or dialog"],
];

export function showHelp() {
  if (!dialog) {
    const close = h("button", { type: "button", class: "button", onclick: () => dialog.close() }, "Close");
    dialog = h(
      "dialog",
      { class: "dialog", "aria-labelledby": "shortcuts-title" },
      h("h2", { id: "shortcuts-title" }, "Keyboard shortcuts"),
      h(
        "dl",
        { class: "shortcuts" },
        fixed.map(([key, what]) => [h("dt", null, h("kbd", null, key)), h("dd", null, what)]),
      ),
      h("p", { class: "hint" }, "Single-key shortcuts do nothing while you type in a field."),
      h("div", { class: "dialog-actions" }, close),
    );
    document.body.append(dialog);
  }
  if (!dialog.open) dialog.showModal();
}

export function startShortcuts() {
  document.addEventListener("keydown", onKey);
}
