/**
 * Shared helpers of the dashboard page: the access token and fetch with it, a tiny observable
 * store (so each tab's data outlives the tab being shown), and formatting.
 *
 * The shapes the server sends are in runtime/src/modes/dev-dashboard-api.ts.
 */
import { useEffect, useState } from '/assets/preact-htm.js';

/**
 * The session's token, from the address `npm run dev` printed (`/?token=…`). It is then kept in
 * this tab's session storage and taken out of the address bar, so that it does not stay in the
 * browser's history or in a screenshot of the page; a reload still finds it.
 */
export const token = takeToken();

function takeToken() {
  const url = new URL(location.href);
  const given = url.searchParams.get('token');
  if (given === null) return sessionStorage.getItem('infra-dev-token') ?? '';
  sessionStorage.setItem('infra-dev-token', given);
  url.searchParams.delete('token');
  history.replaceState(null, '', url);
  return given;
}

/**
 * A value that components can watch. `set` takes a patch and makes a new object, so watchers
 * compare by identity and re-render only on a change.
 */
export function createStore(initial) {
  let value = initial;
  const watchers = new Set();
  return {
    get: () => value,
    set(patch) {
      value = { ...value, ...(typeof patch === 'function' ? patch(value) : patch) };
      for (const watcher of watchers) watcher(value);
    },
    subscribe(watcher) {
      watchers.add(watcher);
      return () => watchers.delete(watcher);
    },
  };
}

/** The store's current value; re-renders the component when it changes. */
export function useStore(store) {
  const [value, setValue] = useState(store.get());
  useEffect(() => {
    setValue(store.get()); // it may have changed between the render and this effect
    return store.subscribe(setValue);
  }, [store]);
  return value;
}

/** Whether the server knows us, and whether the event stream is up. */
export const session = createStore({ unauthorized: !token, connection: 'connecting' });

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * Fetches an /api/ route with the token. Answers `{ status, ok, body }` with the body parsed as
 * JSON when it is JSON. A 401 means the token is wrong (or the dev loop started again with a new
 * one): the whole page then says where to find the right address.
 */
export async function api(path, init = {}) {
  const headers = { ...init.headers, Authorization: `Bearer ${token}` };
  const res = await fetch(path, { ...init, headers });
  if (res.status === 401) {
    session.set({ unauthorized: true });
    throw new ApiError(401, 'The access token was refused');
  }
  const text = await res.text();
  let body = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text, e.g. a proxy's error page
  }
  return { status: res.status, ok: res.ok, body };
}

/** GET a route's JSON; throws the dashboard's `{ error }` message on a 4xx/5xx. */
export async function getJson(path) {
  const { status, ok, body } = await api(path);
  if (!ok) throw new ApiError(status, (body && body.error) || `HTTP ${status}`);
  return body;
}

/** Calls `fn` once `ms` after the last of a burst of calls. */
export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

const pad = (n, width = 2) => String(n).padStart(width, '0');

/** HH:MM:SS.mmm in local time. */
export function formatTime(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** A duration in ms, as `0.42 ms`, `12.3 ms` or `1.25 s`. */
export function formatDuration(ms) {
  if (!Number.isFinite(ms)) return '–';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** One-line JSON for a value of any kind (undefined and cycles included). */
export function compactJson(value) {
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Indented JSON, for a value shown on its own. */
export function prettyJson(value) {
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * A colour for a service (persona) name: the same name gets the same colour in every trace.
 * Hues are spread over the wheel but skip red, which means "error".
 */
export function serviceColor(name) {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  const hues = [210, 160, 270, 35, 190, 300, 95, 235, 130, 55];
  return `hsl(${hues[hash % hues.length]} 60% 48%)`;
}
