// The conversation list: filters, search, sort, infinite scroll, unread badges, bulk actions, live rows.

import { errorText, get, post } from "../api.js";
import { errorSlot, field, h, mount, setText } from "../dom.js";
import { dateTime, shortWhen } from "../format.js";
import { agentName } from "../shell.js";
import { app } from "../store.js";

const PAGE = 50;
const ID_PAGES = 50; // a bulk action on every waiting match lists at most 50 × 200 of them

// Filters survive leaving and coming back to the Chat page (the sort is remembered per agent across visits).
let remembered = null;

const statusOptions = [
  ["", "All statuses"], ["active", "Not resolved"], ["OPEN", "Open"], ["ASSIGNED", "Assigned"],
  ["BOT_ACTIVE", "With the bot"], ["AI_ACTIVE", "With the AI"], ["RESOLVED", "Resolved"],
];
export const statusNames = {
  OPEN: "Open", ASSIGNED: "Assigned", BOT_ACTIVE: "Bot", AI_ACTIVE: "AI", RESOLVED: "Resolved",
};
const bulkWords = {
  mark_read: ["Mark read", "marked read"], star: ["Star", "starred"], archive: ["Archive", "archived"],
  delete: ["Delete", "moved to the trash"], restore: ["Restore", "restored"],
};

export function contactLabel(conversation) {
  const contact = conversation.contact || {};
  return contact.name || contact.phone || contact.whatsappUsername || "Unknown contact";
}

/** The API query of the current filters (also the bulk `filter`: no sort, cursor or limit). */
function filterQuery(f) {
  const query = {};
  if (f.status === "active") query.status = "OPEN,ASSIGNED,BOT_ACTIVE,AI_ACTIVE";
  else if (f.status) query.status = f.status;
  if (f.assignee) query.assignee = f.assignee;
  if (f.channel) query.channel = f.channel;
  if (f.unread) query.unread = "true";
  if (f.starred) query.starred = "true";
  if (f.archived) query.archived = "true";
  if (f.trash) query.deleted = "true";
  if (f.q.trim()) query.q = f.q.trim();
  return query;
}

export function createList({ me }) {
  const sortKey = `sb.sort.${me || "key"}`;
  const filters = remembered ?? {
    status: "", assignee: "", channel: "", unread: false, starred: false, archived: false, trash: false, q: "",
  };
  remembered = filters;
  filters.sort = localStorage.getItem(sortKey) === "waiting" ? "waiting" : "newest";

  const rows = new Map(); // id → {conversation, el, box}
  let order = []; // ids as shown
  let cursor = null;
  let loading = false;
  let generation = 0;
  let current = null;
  const selected = new Set();
  let selectMode = "ids"; // or "filter": every conversation matching the filters
  let matching = null; // the count behind "Select all N matching"

  // ---- filters
  const search = h("input", { type: "search", placeholder: "Name or phone", autocomplete: "off", spellcheck: "false" });
  search.value = filters.q;
  let searchTimer = null;
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    if (filters.q === search.value) return;
    // Rows of the previous search must not be acted on (selected, opened) while the new one is on its way.
    filters.q = search.value;
    clearRows("Searching…");
    searchTimer = setTimeout(() => reload(), 250);
  });
  const select = (name, label, options, value) => {
    const control = h("select", { name }, options.map(([v, text]) => h("option", { value: v }, text)));
    control.value = value;
    control.addEventListener("change", () => {
      filters[name] = control.value;
      if (name === "sort") localStorage.setItem(sortKey, control.value);
      reload();
    });
    return field(label, control);
  };
  const check = (name, label) => {
    const box = h("input", { type: "checkbox", name, checked: filters[name] });
    box.addEventListener("change", () => {
      filters[name] = box.checked;
      reload();
    });
    return h("label", { class: "check chip" }, box, label);
  };
  const assigneeSelect = h("select", { name: "assignee" });
  const fillAssignees = () => {
    const value = filters.assignee;
    mount(
      assigneeSelect,
      h("option", { value: "" }, "Anyone"),
      me ? h("option", { value: "me" }, "Me") : null,
      h("option", { value: "unassigned" }, "Unassigned"),
      app.get().agents.filter((a) => a.id !== me).map((a) => h("option", { value: a.id }, a.name || a.email)),
    );
    assigneeSelect.value = value;
    if (assigneeSelect.value !== value) assigneeSelect.value = "";
  };
  fillAssignees();
  assigneeSelect.addEventListener("change", () => {
    filters.assignee = assigneeSelect.value;
    reload();
  });
  const stopAgents = app.subscribe((now, before) => {
    if (now.agents !== before.agents) {
      fillAssignees();
      for (const row of rows.values()) renderRow(row);
    }
  });

  const filterBar = h(
    "div",
    { class: "filters" },
    h("div", { class: "field search" }, h("label", { for: "conversation-search", class: "visually-hidden" }, "Search conversations"),
      Object.assign(search, { id: "conversation-search" })),
    h(
      "details",
      { class: "filter-details", open: window.matchMedia("(min-width: 700px)").matches },
      h("summary", null, "Filters and sort"),
      h(
        "div",
        { class: "filter-grid" },
        select("status", "Status", statusOptions, filters.status),
        field("Assignee", assigneeSelect),
        select("channel", "Channel", [["", "All channels"], ["whatsapp", "WhatsApp"], ["sms", "SMS"]], filters.channel),
        select("sort", "Sort", [["newest", "Newest activity"], ["waiting", "Waiting longest"]], filters.sort),
      ),
      h("div", { class: "chips" }, check("unread", "Unread"), check("starred", "Starred"), check("archived", "Archived"),
        check("trash", "Trash")),
    ),
  );

  // ---- bulk
  const selectAll = h("input", { type: "checkbox" });
  const selectAllLabel = h("label", { class: "check" }, selectAll, "Select all");
  const selectedText = h("span", { class: "bulk-count" });
  const allMatching = h("button", { type: "button", class: "button link", hidden: true }, "");
  const clearSelection = h("button", { type: "button", class: "button link", hidden: true }, "Clear selection");
  const actionButtons = Object.entries(bulkWords).map(([action, [label]]) =>
    h("button", { type: "button", class: "button small", dataset: { action }, onclick: () => runBulk(action) }, label));
  const actions = h("div", { class: "bulk-actions", hidden: true }, actionButtons);
  const bulkError = errorSlot();
  const bulkResult = h("p", { class: "bulk-result", role: "status" });
  const bulkBar = h(
    "div",
    { class: "bulk", role: "group", "aria-label": "Bulk actions" },
    h("div", { class: "bulk-line" }, selectAllLabel, selectedText, allMatching, clearSelection),
    actions,
    bulkError.el,
    bulkResult,
  );
  selectAll.addEventListener("change", () => {
    selectMode = "ids";
    if (selectAll.checked) for (const id of order) selected.add(id);
    else selected.clear();
    syncSelection();
    if (selectAll.checked) countMatching();
  });
  allMatching.addEventListener("click", () => {
    selectMode = "filter";
    syncSelection();
  });
  clearSelection.addEventListener("click", () => {
    selectMode = "ids";
    selected.clear();
    syncSelection();
  });

  // ---- the list
  const list = h("ul", { class: "conversation-list", role: "list", "aria-label": "Conversations" });
  const listError = errorSlot();
  const retry = h("button", {
    type: "button", class: "button small", hidden: true, onclick: () => (order.length ? loadMore() : reload()),
  }, "Retry");
  const state = h("p", { class: "list-state" });
  const scroller = h("div", { class: "list-scroll" }, list, h("div", { class: "list-foot" }, state, listError.el, retry));
  const el = h("section", { class: "pane list-pane", "aria-label": "Inbox" }, filterBar, bulkBar, scroller);

  // The end of the list within 200 px of the visible part (measured now: an observer's entry may be stale).
  const nearEnd = () => scroller.offsetParent !== null
    && state.getBoundingClientRect().top < scroller.getBoundingClientRect().bottom + 200;
  const observer = new IntersectionObserver(
    () => {
      if (cursor && !loading && nearEnd()) loadMore();
    },
    { root: scroller, rootMargin: "200px" },
  );
  observer.observe(state);

  function clearRows(text) {
    generation += 1;
    rows.clear();
    order = [];
    cursor = null;
    selected.clear();
    selectMode = "ids";
    matching = null;
    list.replaceChildren();
    setText(state, text);
    syncSelection();
  }

  /** Loads the first page again. A new filter empties the list at once, so that rows of the previous filter are
   * never acted on; a refresh (after a gap in the stream, or a bulk action) keeps them until the answer. */
  async function reload({ keep = false } = {}) {
    if (!keep) clearRows("Loading conversations…");
    generation += 1;
    const mine = generation;
    cursor = null;
    selected.clear();
    selectMode = "ids";
    matching = null;
    listError.clear();
    retry.hidden = true;
    loading = true;
    setText(state, "Loading conversations…");
    try {
      const page = await fetchPage(null);
      if (mine !== generation) return;
      rows.clear();
      order = [];
      list.replaceChildren();
      addPage(page);
    } catch (error) {
      if (mine !== generation) return;
      rows.clear();
      order = [];
      list.replaceChildren();
      setText(state, "");
      listError.show(`The conversations could not be loaded: ${errorText(error)}`);
      retry.hidden = false;
    } finally {
      if (mine === generation) loading = false;
      syncSelection();
    }
  }

  async function loadMore() {
    if (!cursor || loading) return;
    const mine = generation;
    loading = true;
    listError.clear();
    retry.hidden = true;
    setText(state, "Loading more…");
    try {
      const page = await fetchPage(cursor);
      if (mine !== generation) return;
      addPage(page);
    } catch (error) {
      if (mine !== generation) return;
      setText(state, "");
      listError.show(errorText(error));
      retry.hidden = false;
    } finally {
      if (mine === generation) loading = false;
      syncSelection();
    }
  }

  function fetchPage(after, limit = PAGE) {
    const query = { ...filterQuery(filters), limit, cursor: after };
    if (filters.sort === "waiting") query.sort = "waiting";
    return get("/conversations", query);
  }

  function addPage(page) {
    for (const conversation of page.data) {
      if (rows.has(conversation.id)) continue;
      const row = makeRow(conversation);
      rows.set(conversation.id, row);
      order.push(conversation.id);
      list.append(row.el);
    }
    cursor = page.nextCursor;
    setText(state, order.length === 0 ? "No conversations match these filters." : cursor ? "" : "That is all.");
    // A short first page may not fill the pane: keep loading while the end is in view.
    if (cursor) requestAnimationFrame(() => {
      if (cursor && !loading && nearEnd()) loadMore();
    });
  }

  function makeRow(conversation) {
    const box = h("input", { type: "checkbox", class: "row-check" });
    box.addEventListener("change", () => {
      selectMode = "ids";
      if (box.checked) selected.add(row.conversation.id);
      else selected.delete(row.conversation.id);
      syncSelection();
    });
    const link = h("a", { class: "row-link" });
    const el = h("li", { class: "row" }, box, link);
    const row = { conversation, el, box, link };
    renderRow(row);
    return row;
  }

  function renderRow(row) {
    const c = row.conversation;
    const name = contactLabel(c);
    const last = c.lastMessage;
    const preview = last ? `${last.direction === "outbound" ? "You: " : ""}${last.text || typeLabel(last.type)}` : "No messages yet";
    const when = c.lastActivityAt;
    row.el.dataset.conversationId = c.id;
    row.el.dataset.status = c.status;
    row.el.classList.toggle("unread", c.unreadCount > 0);
    row.box.setAttribute("aria-label", `Select ${name}`);
    row.box.checked = selected.has(c.id) || selectMode === "filter";
    const bits = [name];
    if (c.unreadCount > 0) bits.push(`${c.unreadCount} unread`);
    bits.push(preview, shortWhen(when));
    row.el.setAttribute("aria-label", bits.join(", "));
    row.link.href = `/chat/${encodeURIComponent(c.id)}`;
    if (c.id === current) row.link.setAttribute("aria-current", "true");
    else row.link.removeAttribute("aria-current");
    const badges = [];
    if (c.starred) badges.push(h("span", { class: "badge star", title: "Starred" }, "★"));
    badges.push(h("span", { class: `badge channel ${c.channel}` }, c.channel === "sms" ? "SMS" : "WA"));
    if (c.status !== "OPEN") {
      const text = c.status === "ASSIGNED" && c.assigneeId
        ? c.assigneeId === me ? "Mine" : agentName(c.assigneeId)
        : statusNames[c.status] || c.status;
      badges.push(h("span", { class: `badge status ${c.status.toLowerCase()}` }, text));
    }
    if (filters.sort === "waiting" && c.waitingSince) {
      badges.push(h("span", { class: "badge waiting", title: `Waiting since ${dateTime(c.waitingSince)}` },
        `waits ${waitedFor(c.waitingSince)}`));
    }
    if (c.unreadCount > 0) badges.push(h("span", { class: "badge unread", dataset: { unread: c.unreadCount } }, String(c.unreadCount)));
    mount(
      row.link,
      h("span", { class: "row-top" }, h("span", { class: "row-name", dir: "auto" }, name),
        h("time", { datetime: when, title: dateTime(when) }, shortWhen(when))),
      h("span", { class: "row-bottom" }, h("span", { class: "row-preview", dir: "auto" }, preview), h("span", { class: "badges" }, badges)),
    );
  }

  /** Does a conversation belong in the list as filtered? (Mirrors the API's filter for live updates.) */
  function matches(c) {
    const f = filters;
    // "Waiting longest" lists only conversations whose customer waits for a reply, resolved ones only if asked.
    if (f.sort === "waiting" && (!c.waitingSince || (!f.status && c.status === "RESOLVED"))) return false;
    if (f.trash ? !c.deletedAt : Boolean(c.deletedAt)) return false;
    if (!f.trash && (f.archived ? !c.archived : c.archived)) return false;
    if (f.status === "active" && c.status === "RESOLVED") return false;
    if (f.status && f.status !== "active" && c.status !== f.status) return false;
    if (f.assignee === "me" && c.assigneeId !== me) return false;
    if (f.assignee === "unassigned" && c.assigneeId) return false;
    if (f.assignee && f.assignee !== "me" && f.assignee !== "unassigned" && c.assigneeId !== f.assignee) return false;
    if (f.channel && c.channel !== f.channel) return false;
    if (f.unread && !(c.unreadCount > 0)) return false;
    if (f.starred && !c.starred) return false;
    const needle = f.q.trim().toLowerCase();
    if (needle) {
      const name = (c.contact?.name || "").toLowerCase();
      const phone = (c.contact?.phone || "").toLowerCase();
      const digits = needle.replace(/\D/g, "");
      if (!name.includes(needle) && !phone.includes(needle) && !(digits && phone.replace(/\D/g, "").includes(digits))) {
        return false;
      }
    }
    return true;
  }

  /** A conversation as the API now answers it: updated in place, moved, added or dropped. */
  function upsert(conversation) {
    const row = rows.get(conversation.id);
    if (!matches(conversation)) {
      if (row) remove(conversation.id);
      return;
    }
    if (row) {
      const moved = sortValue(row.conversation) !== sortValue(conversation);
      row.conversation = conversation;
      renderRow(row);
      if (moved) place(conversation.id);
      return;
    }
    const created = makeRow(conversation);
    rows.set(conversation.id, created);
    order.push(conversation.id);
    place(conversation.id);
    setText(state, cursor ? "" : "That is all.");
  }

  /** The value the list is ordered by: last activity (newest first) or the start of the wait (longest first). */
  const sortValue = (c) => (filters.sort === "waiting" ? c.waitingSince : c.lastActivityAt) || "";

  /** Whether conversation a comes before b in the current order. */
  function before(a, b) {
    const [x, y] = [sortValue(a), sortValue(b)];
    if (filters.sort === "waiting") return x < y || (x === y && a.id < b.id);
    return x > y || (x === y && a.id > b.id);
  }

  /** Moves a row to its place in the current order. */
  function place(id) {
    const row = rows.get(id);
    order = order.filter((other) => other !== id);
    let index = order.findIndex((other) => before(row.conversation, rows.get(other).conversation));
    if (index === -1) {
      if (cursor) {
        // After everything loaded while more pages exist: it comes with those pages.
        row.el.remove();
        rows.delete(id);
        return;
      }
      index = order.length;
    }
    order.splice(index, 0, id);
    const successor = order[index + 1] ? rows.get(order[index + 1]).el : null;
    if (row.el.nextSibling !== successor || row.el.parentNode !== list) list.insertBefore(row.el, successor);
  }

  function remove(id) {
    const row = rows.get(id);
    if (!row) return;
    row.el.remove();
    rows.delete(id);
    order = order.filter((other) => other !== id);
    selected.delete(id);
    syncSelection();
    if (order.length === 0) setText(state, "No conversations match these filters.");
  }

  function syncSelection() {
    const count = selectMode === "filter" ? matching ?? 0 : selected.size;
    for (const id of order) {
      const row = rows.get(id);
      row.box.checked = selectMode === "filter" || selected.has(id);
    }
    const allVisible = order.length > 0 && order.every((id) => selected.has(id));
    selectAll.checked = selectMode === "filter" || allVisible;
    selectAll.indeterminate = selectMode === "ids" && selected.size > 0 && !allVisible;
    setText(selectedText, count > 0 ? (selectMode === "filter" ? `All ${count} matching selected` : `${count} selected`) : "");
    allMatching.hidden = !(selectMode === "ids" && allVisible && matching !== null);
    if (matching !== null) setText(allMatching, `Select all ${matching} matching`);
    clearSelection.hidden = count === 0;
    actions.hidden = count === 0 && selectMode === "ids";
    for (const button of actionButtons) button.hidden = (button.dataset.action === "restore") !== filters.trash;
  }

  /** The list's query for the current filters and sort (bulk filters name no sort). */
  function listQuery() {
    const query = filterQuery(filters);
    if (filters.sort === "waiting") query.sort = "waiting";
    return query;
  }

  async function countMatching() {
    const mine = generation;
    let count;
    try {
      ({ count } = await get("/conversations/count", listQuery()));
    } catch (error) {
      if (mine === generation) bulkError.show(`Counting the matching conversations failed: ${errorText(error)}`);
      return;
    }
    if (mine !== generation) return;
    matching = count;
    syncSelection();
  }

  /** Under "Waiting longest" (a sort bulk filters cannot name): the ids of every waiting match, listed. */
  async function waitingIds() {
    const ids = [];
    let after = null;
    for (let page = 0; page < ID_PAGES; page += 1) {
      const answer = await get("/conversations", { ...listQuery(), limit: 200, cursor: after });
      ids.push(...answer.data.map((c) => c.id));
      after = answer.nextCursor;
      if (!after) break;
    }
    return ids;
  }

  async function runBulk(action) {
    bulkError.clear();
    setText(bulkResult, "");
    const [label, done] = bulkWords[action];
    for (const button of actionButtons) button.disabled = true;
    try {
      let affected = 0;
      if (selectMode === "filter" && filters.sort !== "waiting") {
        affected = (await post("/conversations/bulk", { action, filter: filterQuery(filters) })).affected;
      } else {
        const ids = selectMode === "filter" ? await waitingIds() : [...selected];
        for (let i = 0; i < ids.length; i += 1000) {
          affected += (await post("/conversations/bulk", { action, ids: ids.slice(i, i + 1000) })).affected;
        }
      }
      setText(bulkResult, `${affected} conversation${affected === 1 ? "" : "s"} ${done}.`);
      await reload({ keep: true }); // the shell recounts the unread conversations on the live events that follow
    } catch (error) {
      bulkError.show(`${label} failed: ${errorText(error)}`);
    } finally {
      for (const button of actionButtons) button.disabled = false;
    }
  }

  reload();

  return {
    el,
    reload,
    upsert,
    remove,
    /** The first page of the current filter and order, each row placed as `upsert` does (the rest stay): one
     * request for a burst of live events, however many conversations they touched. Answers the conversations. */
    async refreshTop(limit = PAGE) {
      const mine = generation;
      const page = await fetchPage(null, limit);
      if (mine === generation) for (const conversation of page.data) upsert(conversation);
      return page.data;
    },
    has: (id) => rows.has(id),
    conversation: (id) => rows.get(id)?.conversation,
    setCurrent(id) {
      const previous = current;
      current = id;
      for (const other of [previous, id]) {
        const row = other && rows.get(other);
        if (row) renderRow(row);
      }
      rows.get(id)?.el.scrollIntoView({ block: "nearest" });
    },
    /** The id `step` rows away from the current one (J/K). */
    neighbour(step) {
      if (order.length === 0) return null;
      const index = order.indexOf(current);
      if (index === -1) return step > 0 ? order[0] : order[order.length - 1];
      const next = index + step;
      if (next >= order.length && cursor) loadMore();
      return order[Math.max(0, Math.min(order.length - 1, next))];
    },
    cleanup() {
      observer.disconnect();
      stopAgents();
      clearTimeout(searchTimer);
    },
  };
}

/** 5 min, 3 h, 2 d */
function waitedFor(since) {
  const minutes = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 60e3));
  if (minutes < 60) return `${minutes} min`;
  if (minutes < 48 * 60) return `${Math.round(minutes / 60)} h`;
  return `${Math.round(minutes / 1440)} d`;
}

export function typeLabel(type) {
  return {
    image: "Photo", video: "Video", audio: "Audio", voice: "Voice message", document: "Document", sticker: "Sticker",
    location: "Location", contacts: "Contact card", reaction: "Reaction", template: "Template", interactive: "Interactive message",
    button: "Button reply", unsupported: "Unsupported message",
  }[type] || "Message";
}
