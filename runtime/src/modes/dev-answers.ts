/**
 * What the app's side of `npm run dev` answers alike in one process (modes/in-process/dev-agent.ts)
 * and as local processes (modes/local/dev-agent.ts): the tree it tells at start, and the pages of
 * a Store the dashboard reads.
 */
import type { App } from '../core/app.ts';
import { ApiServer } from '../components/api/server.ts';
import { Store } from '../components/store/store.ts';
import type { StoreBackend } from '../components/store/backend.ts';
import { diagramOf, nodeKey, renderMermaid } from '../targets/diagram/diagram.ts';
import { messageOf } from '../core/errors.ts';
import { HttpError } from '../components/api/http-error.ts';
import type { AgentMessage, DevQuery, DevRequest, StartedMessage } from './dev-protocol.ts';
import type { CallResult, IndexPage, StorePage } from './dev-dashboard-api.ts';

/** Sends `message` to the dev loop, while the channel is open. */
export function tellDevLoop(message: AgentMessage): void {
  if (process.connected) process.send!(message);
}

/**
 * Answers the dev loop's requests with `answer` (a refusal with its `status`, else 500); returns
 * what stops answering.
 */
export function answerDevLoop(answer: (query: DevQuery) => Promise<CallResult | StorePage | IndexPage>): () => void {
  const onMessage = (message: DevRequest) => {
    if (message?.type !== 'request') return;
    answer(message.query).then(
      (value) => tellDevLoop({ type: 'reply', id: message.id, value }),
      (err: unknown) =>
        tellDevLoop({
          type: 'reply',
          id: message.id,
          status: (err as { status?: number }).status ?? 500,
          error: messageOf(err),
        }),
    );
  };
  process.on('message', onMessage);
  return () => process.off('message', onMessage);
}

export function startedMessage(app: App): StartedMessage {
  const diagram = diagramOf(app);
  const servers = app.components.filter((c) => ApiServer.isApiServer(c));
  return {
    type: 'started',
    app: app.root.value,
    personas: app.personas.map((p) => ({ id: p.id.value, kind: p.kind })),
    diagram: { nodes: diagram.nodes.map((n) => ({ ...n, key: nodeKey(n.id) })), edges: diagram.edges },
    mermaid: renderMermaid(diagram),
    endpoints: servers.flatMap((server) =>
      server.endpoints.map((e) => ({
        server: server.id.value,
        method: e.method,
        route: e.route,
        ...(e.input === undefined ? {} : { input: e.input.schema }),
      })),
    ),
    stores: app.components
      .filter((c) => Store.isStore(c))
      .map((store) => ({ id: store.id.value, indexes: store.indexes.map((i) => i.id.value) })),
  };
}

/** A page of a Store's entries, or of an index's, read through `backendOf`, one query each. */
export async function storePage(
  app: App,
  backendOf: (store: Store<any>) => StoreBackend,
  query: Exclude<DevQuery, { op: 'call' }>,
): Promise<StorePage | IndexPage> {
  const store = app.find(query.store);
  if (!Store.isStore(store)) throw new HttpError(404, `No Store ${query.store} in ${app.root.value}`);
  const backend = backendOf(store);
  if (query.op === 'entries') {
    const rows = await backend.entries(query.after, query.limit + 1);
    const entries = rows.slice(0, query.limit);
    return { entries, ...(rows.length > query.limit ? { next: entries.at(-1)![0] } : {}) };
  }
  const index = store.indexes.find((i) => i.id.value === query.index);
  if (!index) throw new HttpError(404, `Store ${store.id.value} has no index ${query.index}`);
  const after = query.after === undefined ? undefined : cursorRow(query.after);
  const rows = await backend.indexEntries(index, after, query.limit + 1);
  const page = rows.slice(0, query.limit).map(({ indexKey, key, inlineValue }) => ({
    indexKey,
    key,
    ...(inlineValue === undefined ? {} : { inlineValue }),
  }));
  // The cursor is the last row shown, as JSON: the next page starts after it, even if it has gone since.
  const last = page.at(-1);
  return {
    entries: page,
    ...(rows.length > query.limit && last ? { next: JSON.stringify([last.indexKey, last.key]) } : {}),
  };
}

function cursorRow(text: string): { indexKey: string; key: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not ours: said below.
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || !parsed.every((p) => typeof p === 'string'))
    throw new HttpError(
      400,
      `after must be the next of an index page (a JSON pair of strings), not ${text.slice(0, 100)}`,
    );
  return { indexKey: parsed[0], key: parsed[1] };
}
