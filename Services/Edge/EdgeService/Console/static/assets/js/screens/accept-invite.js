// An invite (or password reset) link: /accept-invite#token=… → choose a password → signed in.

import { auth, errorText } from "../api.js";
import { errorSlot, field, h, mount } from "../dom.js";

const reasons = {
  too_short: "It is too short: use at least 8 characters.",
  too_long: "It is too long: use at most 128 characters.",
  common: "It is one of the most common passwords. Choose something less guessable.",
  context: "It contains your email, the organisation's name or the product's name.",
};

export function acceptInviteScreen(root, params, { onSignedIn }) {
  document.title = "Set your password — Switchboard";
  // The token lives in the fragment (never sent to a server in a Referer or a log); drop it from the address bar.
  const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);

  const password = h("input", {
    type: "password", name: "password", autocomplete: "new-password", required: true, minlength: 8, maxlength: 128,
  });
  const show = h("input", { type: "checkbox", onchange: () => { password.type = show.checked ? "text" : "password"; } });
  const error = errorSlot();
  const submit = h("button", { type: "submit", class: "button primary wide" }, "Set password");
  const form = h(
    "form",
    { class: "card auth-card", novalidate: true, onsubmit: onSubmit },
    h("div", { class: "auth-brand" }, h("img", { src: "/assets/icon.svg", alt: "", width: 40, height: 40 }), "Switchboard"),
    h("h1", null, "Set your password"),
    h("p", null, "Choose the password you will sign in with."),
    field("New password", password, "8 to 128 characters. A long phrase is easiest to remember; common passwords are refused."),
    h("label", { class: "check" }, show, "Show password"),
    error.el,
    submit,
  );
  mount(root, h("main", { class: "auth-page" }, form));
  if (!token) {
    error.show("This link has no invite token. Ask an admin for a new sign-in link.");
    submit.disabled = true;
  } else {
    password.focus();
  }

  async function onSubmit(event) {
    event.preventDefault();
    error.clear();
    if (password.value.length < 8) {
      error.show(reasons.too_short);
      password.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = "Setting password…";
    try {
      const session = await auth.acceptInvite({ token, password: password.value });
      onSignedIn(session);
    } catch (failure) {
      if (failure.code === "weak_password") {
        error.show(`${reasons[failure.details?.reason] || failure.message} (weak_password)`);
      } else if (failure.code === "invalid_token") {
        error.show("This link is unknown, already used or expired. Ask an admin for a new one. (invalid_token)");
      } else {
        error.show(errorText(failure));
      }
      password.focus();
    } finally {
      submit.disabled = !token;
      submit.textContent = "Set password";
    }
  }
  return null;
}
