/**
 * The Logs tab: the last lines of every persona (and of the dev loop itself), live, filtered in
 * the page by persona, lowest level and a search text.
 *
 * The lines are kept here, outside the tab, so they keep arriving while another tab is shown.
 */
import { html, useEffect, useMemo, useRef, Component } from '/assets/preact-htm.js';
import { createStore, useStore, getJson, formatTime, compactJson } from './util.js';

const MAX_LINES = 5000;
export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
/** The persona filter's value for lines of no persona: the dev loop's own, the app's startup. */
const NO_PERSONA = '\u0000none';

const logStore = createStore({ lines: [], loaded: false, error: undefined });
const filterStore = createStore({ persona: '', level: 'info', q: '' });

/** Sets some of the filters, e.g. from the Map's "logs" link of a persona. */
export const setLogFilter = (patch) => filterStore.set(patch);

const cap = (lines) => (lines.length > MAX_LINES ? lines.slice(lines.length - MAX_LINES) : lines);

// Lines from the event stream are added in batches: a burst of hundreds of lines then costs one
// render, not hundreds.
let pending = [];
let flushTimer;
/** While a (re)load is under way: the lines the stream sent meanwhile, to add after its answer. */
let sinceReload;

export function addLogLine(line) {
  if (sinceReload) sinceReload.push(line);
  pending.push(line);
  flushTimer ??= setTimeout(() => {
    flushTimer = undefined;
    const added = pending;
    pending = [];
    if (added.length) logStore.set(({ lines }) => ({ lines: cap(lines.concat(added)) }));
  }, 100);
}

/**
 * Fetches the last 1000 lines, replacing what the page had (after a reconnection the server may
 * be a new one, its `seq` numbers started again). Lines the stream sent while the fetch was under
 * way are kept when newer than the answer's last.
 */
export async function reloadLogs() {
  const mine = [];
  sinceReload = mine;
  try {
    const { lines } = await getJson('/api/logs?limit=1000');
    if (sinceReload !== mine) return; // a newer reload is under way
    const last = lines.length ? lines[lines.length - 1].seq : -Infinity;
    pending = []; // all of them are in `mine`
    logStore.set({ lines: cap(lines.concat(mine.filter((l) => l.seq > last))), loaded: true, error: undefined });
  } catch (err) {
    if (sinceReload === mine) logStore.set({ loaded: true, error: err.message });
  } finally {
    if (sinceReload === mine) sinceReload = undefined;
  }
}

/** Lowercased text a search looks in, made once per line. */
const haystacks = new WeakMap();
function haystack(line) {
  let text = haystacks.get(line);
  if (text === undefined) {
    text = (line.msg + '\n' + compactJson(line.fields ?? {})).toLowerCase();
    haystacks.set(line, text);
  }
  return text;
}

function matcher({ persona, level, q }) {
  const lowest = Math.max(0, LEVELS.indexOf(level));
  const needle = q.trim().toLowerCase();
  return (line) =>
    (persona === '' || (persona === NO_PERSONA ? !line.persona : line.persona === persona)) &&
    LEVELS.indexOf(line.level) >= lowest &&
    (needle === '' || haystack(line).includes(needle));
}

/** `key=value` for the fields other than the ones shown in their own column. */
function fieldsText(line) {
  const parts = [];
  // The component, unless it is the persona itself (already in its column).
  if (line.component && line.component !== line.persona) parts.push(`component=${line.component}`);
  for (const [key, value] of Object.entries(line.fields ?? {}))
    parts.push(`${key}=${typeof value === 'string' ? value : compactJson(value)}`);
  return parts.join(' ');
}

/** One line; re-rendered only when it is another line (the list re-renders on each batch). */
class LogRow extends Component {
  shouldComponentUpdate(next) {
    return next.line !== this.props.line;
  }
  render({ line, onOpenTrace }) {
    const fields = fieldsText(line);
    return html`
      <div class="log-line" data-level=${line.level} data-seq=${line.seq}>
        <span class="log-time">${formatTime(line.time)}</span>
        <span class=${`log-level level-${line.level}`}>${line.level}</span>
        <span class="log-persona" title=${line.persona ?? 'the dev loop'}>${line.persona ?? '—'}</span>
        <span class="log-msg">${line.msg}${fields && html` <span class="log-fields">${fields}</span>`}</span>
        <span class="log-actions">
          ${
            line.traceId &&
            html`<button
              class="link"
              data-testid="log-trace"
              title=${`Open trace ${line.traceId}`}
              onClick=${() => onOpenTrace(this.props.line.traceId)}
            >
              trace
            </button>`
          }
        </span>
      </div>
    `;
  }
}

export function LogsTab({ overview, onOpenTrace }) {
  const { lines, loaded, error } = useStore(logStore);
  const filter = useStore(filterStore);
  const shown = useMemo(() => lines.filter(matcher(filter)), [lines, filter]);

  // Every persona of the app, plus any that only the lines name (one gone after a restart).
  const personas = useMemo(() => {
    const ids = new Set((overview?.personas ?? []).map((p) => p.id));
    for (const line of lines) if (line.persona) ids.add(line.persona);
    return [...ids].sort();
  }, [overview, lines]);

  // Follow new lines, unless the reader scrolled up to read older ones.
  const list = useRef(null);
  const atBottom = useRef(true);
  const onScroll = () => {
    const el = list.current;
    atBottom.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 24;
  };
  useEffect(() => {
    if (atBottom.current && list.current) list.current.scrollTop = list.current.scrollHeight;
  }, [shown]);
  const toBottom = () => {
    atBottom.current = true;
    list.current.scrollTop = list.current.scrollHeight;
  };

  return html`
    <div class="toolbar">
      <label>
        Persona
        <select
          data-testid="log-persona"
          value=${filter.persona}
          onChange=${(e) => setLogFilter({ persona: e.currentTarget.value })}
        >
          <option value="">All</option>
          <option value=${NO_PERSONA}>(dev loop)</option>
          ${personas.map((id) => html`<option value=${id}>${id}</option>`)}
        </select>
      </label>
      <label>
        Level
        <select
          data-testid="log-level"
          value=${filter.level}
          onChange=${(e) => setLogFilter({ level: e.currentTarget.value })}
        >
          ${LEVELS.map((l) => html`<option value=${l}>${l}</option>`)}
        </select>
      </label>
      <input
        type="search"
        data-testid="log-search"
        placeholder="Search messages and fields"
        value=${filter.q}
        onInput=${(e) => setLogFilter({ q: e.currentTarget.value })}
      />
      <span class="muted" data-testid="log-count">${shown.length} of ${lines.length} lines</span>
      <button class="small" onClick=${toBottom} title="Scroll to the newest line and follow">Latest ↓</button>
    </div>
    ${error && html`<div class="notice error">Cannot load the logs: ${error}</div>`}
    <div class="log-list" ref=${list} onScroll=${onScroll} data-testid="log-list">
      ${shown.map((line) => html`<${LogRow} key=${line.seq} line=${line} onOpenTrace=${onOpenTrace} />`)}
      ${loaded && shown.length === 0 && html`<div class="empty">${lines.length ? 'No line matches the filters.' : 'No log lines yet.'}</div>`}
    </div>
  `;
}
