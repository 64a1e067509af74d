// Live updates: ONE EventSource per browser. The tab holding the "leader" lock (navigator.locks) follows
// GET /events/stream and fans every event out to the other tabs over a BroadcastChannel; when it closes, a
// waiting tab takes the lock and resumes after the last event id it heard (?lastEventId=), so nothing is lost
// and HTTP/1.1's six connections per origin never freeze a seventh tab.

import { app } from "./store.js";

const STREAM = "/api/whatsapp-api/events/stream";
const LOCK = "switchboard-live-leader";
const CHANNEL = "switchboard-live";
const NAMES = ["conversation.updated", "message.created", "message.status"];

const listeners = new Set();
let channel = null;
let source = null;
let lastId = null;
let leader = false;
let running = false;
let release = null; // resolves the held lock
let abort = null; // cancels a pending lock request
let retryTimer = null;
let failures = 0;
let everLive = false;
let checkSession = async () => true;

/** onLiveEvent((name, data) => …) → unsubscribe. Names: the three stream events and "resync" (a gap: reload). */
export function onLiveEvent(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function deliver(name, data) {
  for (const listener of [...listeners]) {
    try {
      listener(name, data);
    } catch (error) {
      console.warn("live listener failed", error);
    }
  }
}

function setState(state) {
  if (app.get().connection !== state) app.set({ connection: state });
  if (leader && channel) channel.postMessage({ kind: "state", state });
}

/**
 * Starts following the stream (after sign-in). `sessionAlive()` is asked when the stream is refused: false means
 * the session ended (the caller signs out), true means retry with backoff.
 */
export function startLive({ sessionAlive } = {}) {
  if (running) return;
  running = true;
  everLive = false;
  if (sessionAlive) checkSession = sessionAlive;
  setState("connecting");
  const shared = "locks" in navigator && typeof BroadcastChannel === "function";
  if (!shared) {
    // Without Web Locks (an insecure origin) every tab follows the stream itself.
    leader = true;
    connect();
    return;
  }
  channel = new BroadcastChannel(CHANNEL);
  channel.onmessage = ({ data: message }) => {
    if (!message || leader) {
      if (message?.kind === "hello" && leader) channel.postMessage({ kind: "state", state: app.get().connection });
      return;
    }
    if (message.kind === "event") {
      lastId = message.id || lastId;
      deliver(message.name, message.data);
    } else if (message.kind === "state") {
      app.set({ connection: message.state });
    } else if (message.kind === "resync") {
      deliver("resync", {});
    }
  };
  channel.postMessage({ kind: "hello" });
  abort = new AbortController();
  navigator.locks
    .request(LOCK, { signal: abort.signal }, () => {
      if (!running) return undefined;
      leader = true;
      connect();
      return new Promise((resolve) => {
        release = resolve;
      });
    })
    .catch(() => {}); // aborted on stop
}

/** Stops following (sign-out): closes the stream and gives up the leader lock. */
export function stopLive() {
  running = false;
  clearTimeout(retryTimer);
  source?.close();
  source = null;
  abort?.abort();
  abort = null;
  release?.();
  release = null;
  leader = false;
  channel?.close();
  channel = null;
  lastId = null;
  failures = 0;
}

function connect() {
  if (!running) return;
  const url = new URL(STREAM, location.origin);
  // A new EventSource (a new leader, or one given up after an HTTP error) resumes after the last event heard.
  if (lastId) url.searchParams.set("lastEventId", lastId);
  const stream = new EventSource(url);
  source = stream;
  let opened = false;
  stream.onopen = () => {
    failures = 0;
    // The browser's own reconnect of this EventSource resumes with Last-Event-ID even before any event: the
    // stream sends its cursor (a bare id: line) as soon as it opens. A new EventSource without an id to resume
    // from (one given up after an HTTP error, before any event or after three failures) may have missed what
    // happened meanwhile, so the views reload.
    if (everLive && !lastId && !opened) announceResync();
    opened = true;
    everLive = true;
    setState("live");
  };
  stream.onerror = () => {
    if (source !== stream) return;
    setState(everLive ? "reconnecting" : "connecting");
    // CONNECTING: the browser retries by itself with Last-Event-ID. CLOSED: an HTTP error; retry by hand.
    if (stream.readyState === EventSource.CLOSED) {
      stream.close();
      source = null;
      retry();
    }
  };
  for (const name of NAMES) {
    stream.addEventListener(name, (event) => {
      if (source !== stream) return;
      lastId = event.lastEventId || lastId;
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      deliver(name, data);
      channel?.postMessage({ kind: "event", name, data, id: lastId });
    });
  }
}

async function retry() {
  failures += 1;
  const alive = await checkSession().catch(() => true);
  if (!running) return;
  if (!alive) return; // the app signs out
  // An id the stream no longer accepts fails every time: after three tries start afresh and reload the views.
  if (failures >= 3 && lastId) {
    lastId = null;
  }
  const delay = Math.min(30000, 1000 * 2 ** Math.min(failures - 1, 5));
  clearTimeout(retryTimer);
  retryTimer = setTimeout(connect, delay);
}

function announceResync() {
  deliver("resync", {});
  channel?.postMessage({ kind: "resync" });
}

/** For tests and diagnostics: is this tab the one holding the stream? */
export const isLeader = () => leader;
