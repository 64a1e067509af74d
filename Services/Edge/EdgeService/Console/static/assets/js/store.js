// A tiny store: one value, set() merges a patch, subscribers hear about every change.

export function createStore(initial) {
  let state = initial;
  const listeners = new Set();
  return {
    get: () => state,
    set(patch) {
      const next = typeof patch === "function" ? patch(state) : { ...state, ...patch };
      if (next === state) return;
      const previous = state;
      state = next;
      for (const listener of [...listeners]) listener(state, previous);
    },
    /** subscribe(fn) → unsubscribe; fn(state, previous) runs on every change (not at once). */
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** What the whole console shares: who is signed in, the live connection, the unread count. */
export const app = createStore({
  session: null, // {agent, org: {id, name, timeZone}, role, session}
  connection: "connecting", // live | connecting | reconnecting
  unreadConversations: 0,
  agents: [], // the org's agents, for names and the assign picker
});
