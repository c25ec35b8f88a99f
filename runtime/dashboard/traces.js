/**
 * The Traces tab: the traces the app's processes exported (newest first) and, for the open one, a
 * waterfall of its spans (parents before their children, bars placed on the trace's time line)
 * with the clicked span's attributes, status and events beside it.
 */
import { html, useMemo } from '/assets/preact-htm.js';
import {
  createStore,
  useStore,
  getJson,
  debounce,
  formatTime,
  formatDuration,
  compactJson,
  serviceColor,
} from './util.js';

const traceStore = createStore({
  list: [],
  loaded: false,
  error: undefined,
  /** The open trace's ID, its TraceView once fetched, and the clicked span's ID. */
  selected: undefined,
  view: undefined,
  viewError: undefined,
  spanId: undefined,
});

export async function refreshTraces() {
  try {
    const { traces } = await getJson('/api/traces');
    traceStore.set({ list: traces, loaded: true, error: undefined });
  } catch (err) {
    traceStore.set({ loaded: true, error: err.message });
  }
}

async function loadView(traceId) {
  try {
    const view = await getJson('/api/traces/' + encodeURIComponent(traceId));
    if (traceStore.get().selected === traceId) traceStore.set({ view, viewError: undefined });
  } catch (err) {
    if (traceStore.get().selected !== traceId) return;
    // The spans of a call just made may not have been exported yet: a `trace` event brings them.
    const viewError = err.status === 404 ? 'No spans of this trace have arrived (yet).' : err.message;
    traceStore.set({ view: undefined, viewError });
  }
}

/** Opens a trace by ID: from the list, a log line, or the API tab's call. */
export function openTrace(traceId) {
  const same = traceStore.get().selected === traceId;
  traceStore.set({
    selected: traceId,
    spanId: same ? traceStore.get().spanId : undefined,
    ...(same ? {} : { view: undefined, viewError: undefined }),
  });
  loadView(traceId);
}

const refreshSoon = debounce(refreshTraces, 300);
const reloadViewSoon = debounce((traceId) => {
  if (traceStore.get().selected === traceId) loadView(traceId);
}, 300);

/** A `trace` event: a trace got new spans. Shown at once in the list, and fetched again soon. */
export function onTraceEvent(summary) {
  traceStore.set(({ list }) => {
    const rest = list.filter((t) => t.traceId !== summary.traceId);
    return { list: [summary, ...rest].sort((a, b) => b.start - a.start) };
  });
  refreshSoon();
  if (traceStore.get().selected === summary.traceId) reloadViewSoon(summary.traceId);
}

/**
 * The spans in waterfall order with their depth: each parent before its children, siblings by
 * start. A span whose parent is not in the trace (not exported yet, or from outside) is a root.
 */
export function waterfallRows(spans) {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const children = new Map();
  const roots = [];
  for (const s of spans) {
    if (s.parentSpanId && s.parentSpanId !== s.spanId && byId.has(s.parentSpanId)) {
      if (!children.has(s.parentSpanId)) children.set(s.parentSpanId, []);
      children.get(s.parentSpanId).push(s);
    } else roots.push(s);
  }
  const byStart = (a, b) => a.start - b.start || a.end - b.end;
  const rows = [];
  const seen = new Set();
  const visit = (span, depth) => {
    if (seen.has(span.spanId)) return;
    seen.add(span.spanId);
    rows.push({ span, depth });
    for (const child of (children.get(span.spanId) ?? []).sort(byStart)) visit(child, depth + 1);
  };
  for (const root of roots.sort(byStart)) visit(root, 0);
  // Spans in a parent loop (broken data) are reached from no root: shown as roots all the same.
  for (const span of spans) visit(span, 0);
  return rows;
}

function TraceList({ list, selected }) {
  return html`
    <div class="trace-list">
      <table class="grid">
        <thead>
          <tr>
            <th>Name</th>
            <th>Service</th>
            <th>Start</th>
            <th class="num">Duration</th>
            <th class="num">Spans</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${list.map(
            (t) => html`
              <tr
                key=${t.traceId}
                data-trace=${t.traceId}
                class=${'clickable' + (t.traceId === selected ? ' selected' : '') + (t.error ? ' has-error' : '')}
                onClick=${() => openTrace(t.traceId)}
              >
                <td class="trace-name">${t.name}</td>
                <td class="muted">${t.service}</td>
                <td class="mono">${formatTime(t.start)}</td>
                <td class="num mono">${formatDuration(t.durationMs)}</td>
                <td class="num">${t.spanCount}</td>
                <td>${t.error && html`<span class="badge state-failed" title="a span of it failed">error</span>`}</td>
              </tr>
            `,
          )}
        </tbody>
      </table>
    </div>
  `;
}

function SpanDetails({ span, origin }) {
  if (!span)
    return html`<aside class="span-details muted" data-testid="span-details">
      Click a span to see its attributes, status and events.
    </aside>`;
  const attributes = Object.entries(span.attributes ?? {});
  return html`
    <aside class="span-details" data-testid="span-details">
      <h3>${span.name}</h3>
      <dl class="facts">
        <dt>Kind</dt>
        <dd>${span.kind}</dd>
        <dt>Service</dt>
        <dd>${span.service}</dd>
        <dt>Status</dt>
        <dd>
          <span class=${`badge status-${span.status}`}>${span.status}</span
          >${span.statusMessage && html` <span class="mono">${span.statusMessage}</span>`}
        </dd>
        <dt>Start</dt>
        <dd class="mono">+${formatDuration(span.start - origin)} (${formatTime(span.start)})</dd>
        <dt>Duration</dt>
        <dd class="mono">${formatDuration(span.end - span.start)}</dd>
        <dt>Span ID</dt>
        <dd class="mono">${span.spanId}</dd>
        ${
          span.parentSpanId &&
          html`<dt>Parent</dt>
            <dd class="mono">${span.parentSpanId}</dd>`
        }
      </dl>
      <h4>Attributes</h4>
      ${attributes.length === 0 && html`<div class="muted">none</div>`}
      <table class="kv">
        ${attributes.map(
          ([k, v]) =>
            html`<tr>
              <th>${k}</th>
              <td class="mono">${typeof v === 'string' ? v : compactJson(v)}</td>
            </tr>`,
        )}
      </table>
      <h4>Events</h4>
      ${(span.events ?? []).length === 0 && html`<div class="muted">none</div>`}
      ${(span.events ?? []).map(
        (e) => html`
          <div class="span-event">
            <div><span class="mono">+${formatDuration(e.time - span.start)}</span> <strong>${e.name}</strong></div>
            <table class="kv">
              ${Object.entries(e.attributes ?? {}).map(
                ([k, v]) =>
                  html`<tr>
                    <th>${k}</th>
                    <td class="mono"><pre>${typeof v === 'string' ? v : compactJson(v)}</pre></td>
                  </tr>`,
              )}
            </table>
          </div>
        `,
      )}
    </aside>
  `;
}

function Waterfall({ view, spanId }) {
  const rows = useMemo(() => waterfallRows(view.spans), [view]);
  if (rows.length === 0) return html`<div class="empty">This trace has no spans.</div>`;
  const origin = Math.min(...view.spans.map((s) => s.start));
  const total = Math.max(Math.max(...view.spans.map((s) => s.end)) - origin, 0.001);
  const services = [...new Set(view.spans.map((s) => s.service))];
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const selectedSpan = view.spans.find((s) => s.spanId === spanId);
  return html`
    <div class="trace-view">
      <div class="waterfall" data-testid="waterfall">
        <div class="waterfall-legend">
          <span class="mono">${view.traceId}</span>
          ${services.map((s) => html`<span class="legend-item"><i style=${{ background: serviceColor(s) }}></i>${s}</span>`)}
        </div>
        <div class="span-axis">
          <span></span>
          <span class="axis"
            >${ticks.map((t) => html`<span style=${{ left: `${t * 100}%` }}>${formatDuration(t * total)}</span>`)}</span
          >
        </div>
        ${rows.map(({ span: s, depth }) => {
          const left = ((s.start - origin) / total) * 100;
          const width = Math.max(((s.end - s.start) / total) * 100, 0.4);
          const error = s.status === 'error';
          // The duration goes after the bar; near the right end, inside a long bar or before a short one.
          const nearEnd = left + width > 85;
          const inside = nearEnd && width > 12;
          const durationPlace = !nearEnd
            ? { left: `${left + width + 0.5}%` }
            : inside
              ? { right: `${Math.max(100 - left - width, 0) + 0.5}%` }
              : { right: `${100 - left + 0.5}%` };
          return html`
            <div
              key=${s.spanId}
              class=${'span-row' + (s.spanId === spanId ? ' selected' : '') + (error ? ' has-error' : '')}
              data-span-name=${s.name}
              data-span-kind=${s.kind}
              data-depth=${depth}
              onClick=${() => traceStore.set({ spanId: s.spanId })}
            >
              <span
                class="span-label"
                style=${{ paddingLeft: `${depth * 16 + 4}px` }}
                title=${`${s.name} (${s.kind}, ${s.service})`}
              >
                <span class="span-name">${s.name}</span>
                <span class="span-kind">${s.kind}</span>
                <span class="span-service">${s.service}</span>
              </span>
              <span class="span-track">
                <span
                  class="span-bar"
                  style=${{ left: `${left}%`, width: `${width}%`, background: error ? 'var(--red)' : serviceColor(s.service) }}
                ></span>
                <span class=${'span-duration' + (inside ? ' inside' : '')} style=${durationPlace}
                  >${formatDuration(s.end - s.start)}</span
                >
              </span>
            </div>
          `;
        })}
      </div>
      <${SpanDetails} span=${selectedSpan} origin=${origin} />
    </div>
  `;
}

export function TracesTab() {
  const { list, loaded, error, selected, view, viewError, spanId } = useStore(traceStore);
  return html`
    <div class="toolbar">
      <strong>Traces</strong>
      <span class="muted">${list.length} trace${list.length === 1 ? '' : 's'}, newest first</span>
      <button class="small" onClick=${refreshTraces}>Refresh</button>
    </div>
    ${error && html`<div class="notice error">Cannot load the traces: ${error}</div>`}
    ${loaded && list.length === 0 && !error && html`<div class="empty">No traces yet: they appear as the app's processes export spans.</div>`}
    ${list.length > 0 && html`<${TraceList} list=${list} selected=${selected} />`}
    ${
      selected &&
      html`
        <div class="trace-open" data-testid="trace-view" data-trace-id=${selected}>
          ${viewError && html`<div class="notice">${viewError} <span class="mono">${selected}</span></div>`}
          ${!view && !viewError && html`<div class="muted">Loading trace ${selected}…</div>`}
          ${view && view.traceId === selected && html`<${Waterfall} view=${view} spanId=${spanId} />`}
        </div>
      `
    }
  `;
}
