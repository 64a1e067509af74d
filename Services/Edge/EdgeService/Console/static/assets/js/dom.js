// DOM building with textContent only: data never reaches innerHTML (the page's Trusted Types policy would refuse it).

import { errorText } from "./api.js";

/**
 * h("button", {type: "button", onclick: fn, "aria-label": "Close"}, "×") → an element.
 * Attributes: `class`, `dataset` ({key: value}), `on<event>` (a listener), `hidden`/`disabled`/… (booleans),
 * anything else through setAttribute (false/null/undefined leave it out). Children: nodes, strings (text nodes),
 * numbers, arrays (flattened), null/undefined/false (skipped).
 */
export function h(tag, attrs, ...children) {
  const el = tag.startsWith("svg:")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  if (attrs) setAttrs(el, attrs);
  append(el, children);
  return el;
}

const properties = new Set(["value", "checked", "selected", "indeterminate"]);

export function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "dataset") {
      for (const [name, v] of Object.entries(value)) {
        if (v === null || v === undefined || v === false) delete el.dataset[name];
        else el.dataset[name] = String(v);
      }
    } else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (properties.has(key)) {
      el[key] = value;
    } else if (value === null || value === undefined || value === false) {
      el.removeAttribute(key);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Text of an element replaced only when it changed (keeps screen readers quiet). */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

let nextId = 0;
/** A document-unique id for label/aria wiring. */
export function uid(prefix = "sb") {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** A labelled form field: <div class="field"><label for>…</label><input id></div>. */
export function field(label, control, hint) {
  const id = control.id || uid("f");
  control.id = id;
  const parts = [h("label", { for: id }, label), control];
  if (hint) {
    const hintId = uid("hint");
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("p", { class: "hint", id: hintId }, hint));
  }
  return h("div", { class: "field" }, parts);
}

/**
 * An error slot placed next to what it concerns: show(error) renders the error in words in a role="alert"
 * element, clear() empties it.
 */
export function errorSlot(extraClass = "") {
  const el = h("p", { class: `error ${extraClass}`.trim(), role: "alert", hidden: true });
  return {
    el,
    show(error) {
      el.textContent = typeof error === "string" ? error : describeError(error);
      el.hidden = false;
    },
    clear() {
      el.textContent = "";
      el.hidden = true;
    },
  };
}

/** An API error (or any error) in words, with its code when it has one. */
export function describeError(error) {
  return errorText(error);
}
