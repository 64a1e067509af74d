// The sections part 2 adds (contacts, import, settings, analytics), and unknown paths.

import { h, mount } from "../dom.js";

export function placeholderScreen(title, missing = false) {
  return (main, params, shell) => {
    shell.setTitle(title);
    mount(
      main,
      h(
        "section",
        { class: "placeholder", "aria-labelledby": "placeholder-title" },
        h("h1", { id: "placeholder-title" }, title),
        h("p", null, missing ? "There is no page at this address." : `${title} arrive in the next version of the console.`),
        h("p", null, h("a", { href: "/chat" }, "Go to Chat")),
      ),
    );
    return null;
  };
}
