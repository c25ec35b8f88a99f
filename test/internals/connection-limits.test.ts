/**
 * The connection counts an app tunes: a Store's pool (`pool.max`, `<STORE>__POOL_MAX`) and an
 * API client's connections (`clientConnections`, `<API>__CONNECTIONS`). Each is checked where it
 * is given, and each bounds what a deployed persona really opens: the store's modify() functions
 * running at once (one connection is kept for the store calls they may make) and the sockets a
 * caller opens to a server.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { rootId, ApiServer, InfraError, Store, type ID } from 'infra-generator';
import { DeployedPlatform } from 'infra-generator/internal/modes/deployed/platform';
import { wiring } from 'infra-generator/internal/core/wiring';
import { adminUrl, dropTables } from '../support/pg-admin.ts';
import { connected } from '../support/pg-query.ts';

const run = randomBytes(3).toString('hex');
const quiet = { info() {}, error() {} };
const tables = new Set<string>();

test.after(() => dropTables(tables));

function thrown(fn: () => unknown): InfraError {
  try {
    fn();
  } catch (err) {
    return err as InfraError;
  }
  throw new Error('expected a throw');
}

test('pool.max and clientConnections are checked where they are given, with the component named', () => {
  const id = rootId(`limits-${run}-a`);
  assert.is(new Store(id`default`).pool.max, 10);
  assert.is(new Store(id`tuned`, { pool: { max: 40 } }).pool.max, 40);
  assert.is(new ApiServer(id`api`).clientConnections, 64);
  assert.is(new ApiServer(id`api2`, { clientConnections: 8 }).clientConnections, 8);
  for (const max of [1, 0, 2.5, 1001, '10', Number.NaN]) {
    const err = thrown(() => new Store(id`bad-${String(max)}`, { pool: { max: max as number } }));
    assert.is(err.code, 'INFRA_INVALID_CONNECTIONS');
    assert.match(
      err.message,
      new RegExp(`^Store limits-${run}-a\\.bad-.*: pool\\.max must be a whole number from 2 to 1000, got `),
    );
  }
  const err = thrown(() => new ApiServer(id`api-bad`, { clientConnections: 0 }));
  assert.is(err.code, 'INFRA_INVALID_CONNECTIONS');
  assert.match(
    err.message,
    /ApiServer limits-.*\.api-bad: clientConnections must be a whole number from 1 to 10000, got 0/,
  );
});

/**
 * An app with an API persona and a store it may use, entered in a deployed platform whose
 * environment is the store's URL, the API's token and `env(ids)`.
 */
function deployed(
  name: string,
  env: (ids: { store: ID; api: ID }) => Record<string, string>,
  storeOptions?: { pool: { max: number } },
) {
  const id = rootId(`limits-${run}-${name}`);
  const api = new ApiServer(id`api`, { clientConnections: 3 });
  const ping = api.defineEndpoint('/ping', () => 'pong');
  const store = new Store<{ n: number }>(id`db`, storeOptions);
  tables.add(store.id.sqlName);
  // Its connections carry a name of their own, so that pg_stat_activity can count them.
  const url = new URL(adminUrl);
  url.searchParams.set('application_name', `limits-${run}-${name}`);
  const platform = new DeployedPlatform({
    env: {
      [wiring.storeUrl(store.id)]: url.toString(),
      [wiring.apiToken(api.id)]: 'not-secret',
      ...env({ store: store.id, api: api.id }),
    },
    persona: api,
    log: quiet,
  });
  api.app.enter('runtime', platform);
  return { ping, store, platform, applicationName: `limits-${run}-${name}` };
}

/** How many connections the server has open under `applicationName`. */
function openConnections(applicationName: string): Promise<number> {
  return connected(adminUrl, async (client) => {
    const { rows } = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
      [applicationName],
    );
    return rows[0]!.n;
  });
}

/** How many modify() functions of `store` run at once, at most, when 12 are started together. */
async function modifyConcurrency(store: Store<{ n: number }>): Promise<number> {
  let running = 0;
  let most = 0;
  await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      store.modify(`k${i}`, async () => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 50));
        running--;
        return { n: i };
      }),
    ),
  );
  return most;
}

test("a Store's pool size: the code's pool.max, overridden by <STORE>__POOL_MAX, bounds what runs at once", async () => {
  const inCode = deployed('pool-code', () => ({}), { pool: { max: 4 } });
  const byEnv = deployed('pool-env', ({ store }) => ({ [wiring.storePoolMax(store)]: ' 6 ' }), { pool: { max: 4 } });
  try {
    // One connection stays free for the store calls a modify() function may make.
    assert.is(await modifyConcurrency(inCode.store), 3);
    assert.is(await modifyConcurrency(byEnv.store), 5);
    // 40 reads at once open the whole pool, and no more (idle connections stay open 5 s).
    for (const { store, applicationName, max } of [
      { ...inCode, max: 4 },
      { ...byEnv, max: 6 },
    ]) {
      await Promise.all(Array.from({ length: 40 }, (_, i) => store.get(`k${i % 12}`)));
      assert.is(await openConnections(applicationName), max, `${applicationName}: connections open`);
    }
  } finally {
    await inCode.platform.close();
    await byEnv.platform.close();
  }
});

test('a bad <STORE>__POOL_MAX or <API>__CONNECTIONS fails the call, naming the variable and the component', async () => {
  for (const text of ['1', 'ten', '0x10', '1e3', '12.0', '1001']) {
    const { store, platform } = deployed(`bad-pool-${text.replace('.', '-')}`, ({ store }) => ({
      [wiring.storePoolMax(store)]: text,
    }));
    const err = (await store.get('k').catch((e: unknown) => e)) as InfraError;
    assert.is(err.code, 'INFRA_INVALID_CONNECTIONS', text);
    assert.match(
      err.message,
      `Store ${store.id.value}: ${wiring.storePoolMax(store.id)} must be a whole number from 2 to 1000, got ${JSON.stringify(text)}`,
    );
    await platform.close();
  }
  const { ping, platform } = deployed('bad-connections', ({ api }) => ({
    [wiring.apiUrl(api)]: 'http://127.0.0.1:9',
    [wiring.apiConnections(api)]: '0',
  }));
  const err = (await ping().catch((e: unknown) => e)) as InfraError;
  assert.is(err.code, 'INFRA_INVALID_CONNECTIONS');
  assert.match(
    err.message,
    /^ApiServer limits-.*\.api: LIMITS_.*__API__CONNECTIONS must be a whole number from 1 to 10000, got "0"/,
  );
  await platform.close();
});

/** A server that answers every request after 100 ms and counts the sockets it was given. */
async function slowServer(): Promise<{ server: Server; url: string; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    sockets.add(request.socket);
    setTimeout(() => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('"pong"');
    }, 100);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, sockets };
}

test("an API client's connections: the server's clientConnections, overridden by <API>__CONNECTIONS, bound the sockets a caller opens", async () => {
  for (const [name, override, expected] of [
    ['conn-code', undefined, 3],
    ['conn-env', '5', 5],
  ] as const) {
    const { server, url, sockets } = await slowServer();
    const { ping, platform } = deployed(name, ({ api }) => ({
      [wiring.apiUrl(api)]: url,
      ...(override === undefined ? {} : { [wiring.apiConnections(api)]: override }),
    }));
    try {
      assert.equal(await Promise.all(Array.from({ length: 12 }, () => ping())), Array(12).fill('pong'));
      assert.is(sockets.size, expected, `${name}: sockets opened`);
    } finally {
      await platform.close();
      server.closeAllConnections();
      server.close();
    }
  }
});

test.run();
