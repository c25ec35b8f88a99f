/**
 * The API tab: every endpoint of every ApiServer, and a form to call one with an argument as JSON
 * (the server checks it against the endpoint's schema, as a real caller's would be), showing the
 * answer and a link to the call's trace.
 */
import { html, useEffect } from '/assets/preact-htm.js';
import { createStore, useStore, api, getJson, prettyJson, formatDuration } from './util.js';

const store = createStore({
  endpoints: [],
  loaded: false,
  error: undefined,
  /** `${server} ${method} ${route}` of the chosen endpoint. */
  chosen: undefined,
  arg: '',
  sending: false,
  /** The last call's CallResult (or the dashboard's own refusal, as `{ status, error }`). */
  result: undefined,
});

const keyOf = (e) => `${e.server} ${e.method} ${e.route}`;

async function loadEndpoints() {
  try {
    const { endpoints } = await getJson('/api/endpoints');
    store.set({ endpoints, loaded: true, error: undefined });
  } catch (err) {
    store.set({ loaded: true, error: err.message });
  }
}

/**
 * An example value of a JSON Schema, for the argument's placeholder: `"1"` for a string argument
 * (an ID, most often), empty strings inside objects, 0, false, [] …
 */
function example(schema, nested = false, depth = 0) {
  if (!schema || typeof schema !== 'object' || depth > 4) return undefined;
  if ('const' in schema) return schema.const;
  if ('default' in schema) return schema.default;
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  const alternative = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(alternative))
    return example(alternative.find((s) => s?.type !== 'null') ?? alternative[0], nested, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string':
      return nested ? '' : '1';
    case 'number':
    case 'integer':
      return 0;
    case 'boolean':
      return false;
    case 'null':
      return null;
    case 'array':
      return [];
    case 'object': {
      const value = {};
      for (const [key, property] of Object.entries(schema.properties ?? {}))
        value[key] = example(property, true, depth + 1) ?? null;
      return value;
    }
    default:
      return undefined;
  }
}

/** JSON text of an example: an object of plain values on one line, as `{ "id": "", "name": "" }`. */
function exampleText(schema) {
  const value = example(schema);
  if (value === undefined) return '';
  const flat =
    value &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => v === null || typeof v !== 'object');
  if (flat) {
    const entries = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`);
    return entries.length ? `{ ${entries.join(', ')} }` : '{}';
  }
  return JSON.stringify(value, null, 2);
}

async function send(endpoint) {
  const { arg } = store.get();
  const request = { server: endpoint.server, method: endpoint.method, route: endpoint.route };
  // A blank argument means "no argument"; anything else is sent as typed, even if it is not JSON
  // (the server answers 400 saying why).
  if (arg.trim() !== '') request.arg = arg;
  store.set({ sending: true, result: undefined });
  try {
    const { ok, status, body } = await api('/api/call', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(request),
    });
    // A CallResult carries the endpoint's status; a refusal of the dashboard itself is `{ error }`.
    const result =
      body && typeof body === 'object' && typeof body.status === 'number'
        ? body
        : {
            status,
            error: ok ? undefined : (body?.error ?? String(body ?? `HTTP ${status}`)),
            answer: ok ? body : undefined,
          };
    store.set({ sending: false, result });
  } catch (err) {
    store.set({
      sending: false,
      result:
        err.status === 401
          ? undefined
          : { status: 0, error: `The call did not reach the dashboard server: ${err.message}` },
    });
  }
}

function resultText(result) {
  if (result.status >= 400 || result.status === 0) return result.error ?? '(no error message)';
  if (result.status === 204 || result.answer === undefined) return '(no content)';
  return prettyJson(result.answer);
}

function CallResult({ result, onOpenTrace }) {
  const failed = result.status >= 400 || result.status === 0;
  return html`
    <div class=${'call-result-box' + (failed ? ' failed' : '')}>
      <div class="call-meta">
        <span
          >Status
          <strong class=${'status ' + (failed ? 'bad' : 'good')} data-testid="call-status"
            >${result.status}</strong
          ></span
        >
        ${result.durationMs !== undefined && html`<span class="muted" data-testid="call-duration">${formatDuration(result.durationMs)}</span>`}
        ${
          result.traceId &&
          html`<button
            class="link"
            data-testid="call-trace"
            onClick=${() => onOpenTrace(result.traceId)}
            title=${result.traceId}
          >
            Open trace
          </button>`
        }
      </div>
      <pre class="json" data-testid="call-result">${resultText(result)}</pre>
    </div>
  `;
}

function EndpointDetails({ endpoint, arg, sending, result, onOpenTrace }) {
  const placeholder = exampleText(endpoint.input);
  return html`
    <div class="endpoint-details" data-testid="endpoint-details">
      <h3>
        <span class=${`method method-${endpoint.method}`}>${endpoint.method}</span>
        <span class="mono">${endpoint.route}</span>
      </h3>
      <dl class="facts">
        <dt>Method</dt>
        <dd>${endpoint.method}</dd>
        <dt>Route</dt>
        <dd class="mono">${endpoint.route}</dd>
        <dt>Server</dt>
        <dd class="mono">${endpoint.server}</dd>
      </dl>
      <h4>Input schema</h4>
      ${endpoint.input === undefined ? html`<div class="muted" data-testid="call-schema">no input schema</div>` : html`<pre class="json" data-testid="call-schema">${prettyJson(endpoint.input)}</pre>`}
      <h4>Argument <span class="muted">(JSON; leave empty to call with no argument)</span></h4>
      <textarea
        data-testid="call-arg"
        rows="5"
        spellcheck="false"
        placeholder=${placeholder}
        value=${arg}
        onInput=${(e) => store.set({ arg: e.currentTarget.value })}
        onKeyDown=${(e) => (e.ctrlKey || e.metaKey) && e.key === 'Enter' && send(endpoint)}
      ></textarea>
      <div class="call-buttons">
        <button class="primary" data-testid="call-send" disabled=${sending} onClick=${() => send(endpoint)}>
          ${sending ? 'Calling…' : 'Send'}
        </button>
        ${placeholder && html`<button class="small" onClick=${() => store.set({ arg: placeholder })}>Use example</button>`}
        <span class="muted">Ctrl+Enter sends</span>
      </div>
      ${result && html`<${CallResult} result=${result} onOpenTrace=${onOpenTrace} />`}
    </div>
  `;
}

export function ApiTab({ generation, onOpenTrace }) {
  const { endpoints, loaded, error, chosen, arg, sending, result } = useStore(store);
  // The endpoints can change with each restart of the app.
  useEffect(() => {
    loadEndpoints();
  }, [generation]);
  const endpoint = endpoints.find((e) => keyOf(e) === chosen);
  const choose = (e) => keyOf(e) !== chosen && store.set({ chosen: keyOf(e), arg: '', result: undefined });
  return html`
    <div class="split">
      <nav class="side-list" data-testid="endpoints">
        ${error && html`<div class="notice error">Cannot load the endpoints: ${error}</div>`}
        ${loaded && !error && endpoints.length === 0 && html`<div class="empty">No endpoints.</div>`}
        ${endpoints.map(
          (e) => html`
            <button
              key=${keyOf(e)}
              class=${'side-item' + (keyOf(e) === chosen ? ' selected' : '')}
              data-endpoint=${`${e.method} ${e.route}`}
              data-server=${e.server}
              onClick=${() => choose(e)}
            >
              <span
                ><span class=${`method method-${e.method}`}>${e.method}</span>
                <span class="mono">${e.route}</span></span
              >
              <span class="muted small-text">${e.server}</span>
            </button>
          `,
        )}
      </nav>
      <div class="split-main">
        ${
          endpoint
            ? html`<${EndpointDetails}
                endpoint=${endpoint}
                arg=${arg}
                sending=${sending}
                result=${result}
                onOpenTrace=${onOpenTrace}
              />`
            : html`<div class="empty">Choose an endpoint to call it.</div>`
        }
      </div>
    </div>
  `;
}
