/**
 * The dev dashboard's page: the header (app, mode, state), the tabs, and the live connection.
 *
 * The page talks to the dev loop's dashboard server (routes and JSON shapes in
 * runtime/src/modes/dev-dashboard-api.ts): it fetches the current state once, then follows the
 * server-sent event stream, which sends `overview`, `log` and `trace` events. Each tab lives in a
 * module of its own; their data lives in stores, so switching tabs loses nothing.
 */
import { html, render, useEffect, useState } from '/assets/preact-htm.js';
import { token, session, createStore, useStore, getJson } from './util.js';
import { MapTab } from './map.js';
import { LogsTab, reloadLogs, addLogLine } from './logs.js';
import { TracesTab, refreshTraces, onTraceEvent, openTrace } from './traces.js';
import { ApiTab } from './explorer.js';
import { StoresTab } from './stores.js';

/** The latest Overview; `undefined` until the first answer. */
const overviewStore = createStore({ overview: undefined, error: undefined });

async function loadOverview() {
  try {
    overviewStore.set({ overview: await getJson('/api/overview'), error: undefined });
  } catch (err) {
    if (err.status !== 401) overviewStore.set({ error: err.message });
  }
}

/**
 * Follows /api/events. EventSource reconnects by itself when the connection drops (the dev loop
 * restarting, say); what happened meanwhile is fetched again once it is back. It gives up only
 * when the server answers something other than a stream (a 401 after a new token, most likely):
 * then the overview's fetch tells which, and a new EventSource is tried a little later.
 */
function connect() {
  const events = new EventSource('/api/events?token=' + encodeURIComponent(token));
  let dropped = false;
  events.addEventListener('open', () => {
    session.set({ connection: 'live' });
    if (dropped) resync();
    dropped = false;
  });
  events.addEventListener('error', () => {
    dropped = true;
    session.set({ connection: 'reconnecting' });
    if (events.readyState === EventSource.CLOSED) {
      events.close();
      loadOverview().finally(() => {
        if (!session.get().unauthorized) setTimeout(connect, 2000);
      });
    }
  });
  events.addEventListener('overview', (e) => overviewStore.set({ overview: JSON.parse(e.data), error: undefined }));
  events.addEventListener('log', (e) => addLogLine(JSON.parse(e.data)));
  events.addEventListener('trace', (e) => onTraceEvent(JSON.parse(e.data)));
}

function resync() {
  loadOverview();
  reloadLogs();
  refreshTraces();
}

const TABS = [
  ['map', 'Map'],
  ['logs', 'Logs'],
  ['traces', 'Traces'],
  ['api', 'API'],
  ['stores', 'Stores'],
];

const tabFromHash = () => {
  const name = location.hash.slice(1);
  return TABS.some(([id]) => id === name) ? name : 'map';
};

/** Shown instead of everything when there is no token or the server refused it. */
function NoAccess() {
  return html`
    <div class="no-access" data-testid="no-access">
      <h1>Infra Generator — dev</h1>
      <p>${token ? "The server refused this address's access token." : 'This page needs its access token.'}</p>
      <p>Open the address <code>npm run dev</code> printed (it holds the access token).</p>
      <p class="muted">It looks like <code>http://127.0.0.1:PORT/?token=…</code></p>
    </div>
  `;
}

function Header({ overview, connection, tab, onTab }) {
  const o = overview;
  const restarted = o && o.generation > 1 && o.changed && o.changed.length > 0;
  return html`
    <header class="top">
      <div class="top-line">
        <span class="brand">Infra Generator — dev</span>
        ${
          o?.app
            ? html`<span class="app-id" data-testid="app-id">${o.app}</span>`
            : html`<span class="app-id pending" data-testid="app-id">${o ? 'app not started yet' : '…'}</span>`
        }
        ${
          o &&
          html`
            <span class="mode" data-testid="app-mode" title="dev mode">${o.mode}</span>
            <span class="badge state-${o.state}" data-testid="app-state" data-state=${o.state}>${o.state}</span>
            <span class="muted" data-testid="app-generation" title="1 for the first start, +1 for each restart"
              >generation ${o.generation}</span
            >
            ${
              restarted &&
              html`<span class="muted restarted" data-testid="app-changed"
                >restarted after a change to ${o.changed.join(', ')}</span
              >`
            }
          `
        }
        <span class=${`connection conn-${connection}`} data-testid="connection" title="the live event stream">
          ${connection === 'live' ? 'live' : connection === 'connecting' ? 'connecting…' : 'reconnecting…'}
        </span>
      </div>
      <nav class="tabs" role="tablist">
        ${TABS.map(
          ([id, label]) => html`
            <button
              role="tab"
              data-tab-button=${id}
              class=${id === tab ? 'active' : ''}
              aria-selected=${id === tab}
              onClick=${() => onTab(id)}
            >
              ${label}
            </button>
          `,
        )}
      </nav>
    </header>
  `;
}

function App() {
  const { unauthorized, connection } = useStore(session);
  const { overview, error } = useStore(overviewStore);
  const [tab, setTab] = useState(tabFromHash);

  useEffect(() => {
    const onHash = () => setTab(tabFromHash());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  // The tab is kept in the address, so a reload (or the back button) keeps it.
  const goTo = (id) => {
    if (location.hash !== '#' + id) location.hash = id;
    setTab(id);
  };
  const showTrace = (traceId) => {
    openTrace(traceId);
    goTo('traces');
  };

  if (unauthorized) return html`<${NoAccess} />`;

  const generation = overview?.generation ?? 0;
  let panel;
  if (tab === 'map') panel = html`<${MapTab} overview=${overview} onTab=${goTo} />`;
  else if (tab === 'logs') panel = html`<${LogsTab} overview=${overview} onOpenTrace=${showTrace} />`;
  else if (tab === 'traces') panel = html`<${TracesTab} />`;
  else if (tab === 'api') panel = html`<${ApiTab} generation=${generation} onOpenTrace=${showTrace} />`;
  else panel = html`<${StoresTab} generation=${generation} />`;

  return html`
    <${Header} overview=${overview} connection=${connection} tab=${tab} onTab=${goTo} />
    <main>
      ${error && html`<div class="notice error" data-testid="overview-error">Cannot reach the dashboard server: ${error}</div>`}
      ${
        overview?.state === 'failed' &&
        html`
          <div class="app-failed" data-testid="app-error">
            <strong>The app failed${overview.generation > 1 ? ` (generation ${overview.generation})` : ''}.</strong>
            <span class="muted"> Fix the code and save: the dev loop restarts it.</span>
            <pre>${overview.error ?? '(no error message)'}</pre>
          </div>
        `
      }
      <section class=${`panel panel-${tab}`} data-tab=${tab} role="tabpanel">${panel}</section>
    </main>
  `;
}

// The overview first: if the token is refused, that is the one 401, and nothing else is asked.
if (token) {
  loadOverview().then(() => {
    if (session.get().unauthorized) return;
    reloadLogs();
    refreshTraces();
    connect();
  });
}
render(html`<${App} />`, document.getElementById('app'));
