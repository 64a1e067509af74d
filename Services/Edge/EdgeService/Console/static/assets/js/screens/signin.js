// Sign in with email and password (POST /api/auth/login); an email in several organisations picks one.

import { auth, errorText } from "../api.js";
import { errorSlot, field, h, mount } from "../dom.js";

export function signinScreen(root, params, { onSignedIn }) {
  document.title = "Sign in — Switchboard";
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true, spellcheck: "false" });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const org = h("select", { name: "orgId" });
  const orgField = field("Organisation", org);
  orgField.hidden = true;
  const error = errorSlot();
  const submit = h("button", { type: "submit", class: "button primary wide" }, "Sign in");
  const notice = sessionStorage.getItem("sb.notice");
  sessionStorage.removeItem("sb.notice");

  const form = h(
    "form",
    { class: "card auth-card", novalidate: true, onsubmit: onSubmit },
    h("div", { class: "auth-brand" }, h("img", { src: "/assets/icon.svg", alt: "", width: 40, height: 40 }), "Switchboard"),
    h("h1", null, "Sign in"),
    notice ? h("p", { class: "notice", role: "status" }, notice) : null,
    field("Email", email),
    field("Password", password),
    orgField,
    error.el,
    submit,
    h("p", { class: "hint" }, "Forgot your password? Ask an admin for a new sign-in link."),
  );
  mount(root, h("main", { class: "auth-page" }, form));
  email.focus();

  async function onSubmit(event) {
    event.preventDefault();
    error.clear();
    if (!email.value.trim() || !password.value) {
      error.show("Enter your email and password.");
      (email.value.trim() ? password : email).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = "Signing in…";
    try {
      const body = { email: email.value.trim(), password: password.value };
      if (!orgField.hidden && org.value) body.orgId = org.value;
      const session = await auth.login(body);
      onSignedIn(session);
    } catch (failure) {
      if (failure.code === "org_required" && Array.isArray(failure.details?.orgs)) {
        org.replaceChildren(...failure.details.orgs.map((o) => h("option", { value: o.id }, o.name || o.id)));
        orgField.hidden = false;
        error.show("This email has an account in several organisations: choose one and sign in again.");
        org.focus();
      } else if (failure.code === "route_not_found") {
        error.show("Signing in is not available on this server yet.");
      } else {
        error.show(errorText(failure));
        password.select();
      }
    } finally {
      submit.disabled = false;
      submit.textContent = "Sign in";
    }
  }
  return null;
}
