/**
 * The Stores tab: read-only paging through a Store's entries (by key) or one of its indexes.
 * Pages are `limit` entries; the server's `next` is the `after` of the following page.
 */
import { html, useEffect } from '/assets/preact-htm.js';
import { createStore, useStore, getJson, compactJson } from './util.js';

const LIMIT = 50;

const store = createStore({
  stores: [],
  loaded: false,
  error: undefined,
  chosen: undefined,
  /** '' for the entries by key, else an index's name. */
  index: '',
  /** The page shown: its `after` (undefined for the first), number, and the answer. */
  after: undefined,
  pageNo: 1,
  page: undefined,
  pageError: undefined,
  loading: false,
});

async function loadStores() {
  try {
    const { stores } = await getJson('/api/stores');
    store.set({ stores, loaded: true, error: undefined });
    const { chosen } = store.get();
    if (chosen && stores.some((s) => s.id === chosen)) loadPage(); // after a restart, the data may have changed
  } catch (err) {
    store.set({ loaded: true, error: err.message });
  }
}

let request = 0;
async function loadPage() {
  const { chosen, index, after } = store.get();
  const mine = ++request;
  const base =
    `/api/stores/${encodeURIComponent(chosen)}/` + (index ? `indexes/${encodeURIComponent(index)}` : 'entries');
  const query = new URLSearchParams({ limit: String(LIMIT) });
  if (after !== undefined) query.set('after', after);
  store.set({ loading: true });
  try {
    const page = await getJson(`${base}?${query}`);
    if (mine === request) store.set({ page, pageError: undefined, loading: false });
  } catch (err) {
    if (mine === request) store.set({ page: undefined, pageError: err.message, loading: false });
  }
}

function show(patch) {
  store.set({ after: undefined, pageNo: 1, page: undefined, pageError: undefined, ...patch });
  loadPage();
}

const chooseStore = (id) => show({ chosen: id, index: '' });
const chooseIndex = (index) => show({ index });
const firstPage = () => show({});
const nextPage = () => {
  const { page, pageNo } = store.get();
  if (page?.next !== undefined) show({ after: page.next, pageNo: pageNo + 1 });
};

function EntriesTable({ page }) {
  return html`
    <table class="grid entries">
      <thead>
        <tr>
          <th>Key</th>
          <th>Value</th>
        </tr>
      </thead>
      <tbody>
        ${page.entries.map(
          ([key, value]) =>
            html`<tr key=${key} class="store-entry" data-key=${key}>
              <td class="mono key">${key}</td>
              <td class="mono value">${compactJson(value)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  `;
}

function IndexTable({ page }) {
  return html`
    <table class="grid entries">
      <thead>
        <tr>
          <th>Index key</th>
          <th>Key</th>
          <th>Inline value</th>
        </tr>
      </thead>
      <tbody>
        ${page.entries.map(
          (e) =>
            html`<tr class="index-entry" data-index-key=${e.indexKey} data-key=${e.key}>
              <td class="mono key">${e.indexKey}</td>
              <td class="mono key">${e.key}</td>
              <td class="mono value">${e.inlineValue === undefined ? '' : compactJson(e.inlineValue)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  `;
}

function StoreView({ view, state }) {
  const { index, pageNo, page, pageError, loading } = state;
  return html`
    <div class="toolbar">
      <strong class="mono">${view.id}</strong>
      ${
        view.indexes.length > 0 &&
        html`<label
          >View
          <select data-testid="store-index" value=${index} onChange=${(e) => chooseIndex(e.currentTarget.value)}>
            <option value="">Entries (by key)</option>
            ${view.indexes.map((name) => html`<option value=${name}>Index: ${name}</option>`)}
          </select></label
        >`
      }
      <button class="small" data-testid="store-first" disabled=${pageNo === 1 && !pageError} onClick=${firstPage}>
        First page
      </button>
      <button class="small" data-testid="store-next" disabled=${page?.next === undefined} onClick=${nextPage}>
        Next page
      </button>
      <span class="muted" data-testid="store-page"
        >page
        ${pageNo}${page ? `, ${page.entries.length} entr${page.entries.length === 1 ? 'y' : 'ies'}` : ''}${loading ? ' (loading…)' : ''}</span
      >
    </div>
    ${pageError && html`<div class="notice error">Cannot read the store: ${pageError}</div>`}
    ${page && page.entries.length === 0 && html`<div class="empty">${pageNo === 1 ? 'Empty.' : 'No more entries.'}</div>`}
    ${page && page.entries.length > 0 && (index ? html`<${IndexTable} page=${page} />` : html`<${EntriesTable} page=${page} />`)}
  `;
}

export function StoresTab({ generation }) {
  const state = useStore(store);
  const { stores, loaded, error, chosen } = state;
  useEffect(() => {
    loadStores();
  }, [generation]);
  const view = stores.find((s) => s.id === chosen);
  return html`
    <div class="split">
      <nav class="side-list" data-testid="stores">
        ${error && html`<div class="notice error">Cannot load the stores: ${error}</div>`}
        ${loaded && !error && stores.length === 0 && html`<div class="empty">No stores.</div>`}
        ${stores.map(
          (s) =>
            html`<button
              key=${s.id}
              class=${'side-item' + (s.id === chosen ? ' selected' : '')}
              data-store=${s.id}
              onClick=${() => chooseStore(s.id)}
            >
              <span class="mono">${s.id}</span>
              ${s.indexes.length > 0 && html`<span class="muted small-text">indexes: ${s.indexes.join(', ')}</span>`}
            </button>`,
        )}
      </nav>
      <div class="split-main">
        ${view ? html`<${StoreView} view=${view} state=${state} />` : html`<div class="empty">Choose a store to see its entries.</div>`}
      </div>
    </div>
  `;
}
