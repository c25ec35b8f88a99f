/**
 * Least privilege in one process: the same rules as in containers, with the same words.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Type } from 'typebox';
import {
  rootId,
  appOf,
  Store,
  ApiServer,
  onDeploy,
  Worker,
  runPersona,
  type ID,
  type InfraError,
} from 'infra-generator';
import { edges, mayUseStore, storesUsable } from 'infra-generator/internal/core/access';
import { treeFingerprint, treeListing, differingIds, assertSameTree } from 'infra-generator/internal/core/fingerprint';

function capture() {
  const lines: string[] = [];
  return { lines, log: { info: (m: string) => lines.push(m), error: (m: string) => lines.push(m) } };
}

/** The seed's customer server, but it leaks its store to the caller. */
function customerServer(id: ID) {
  const db = new Store(id`db`);
  const api = new ApiServer(id`api`);
  const getCustomer = api.defineEndpoint('/api/customer', async (key: string) => db.get(key), { method: 'GET' });
  const postCustomer = api.defineEndpoint('/api/customer', async (c: { id: string; name: string }) => db.set(c.id, c), {
    method: 'POST',
  });
  return { db, client: { getCustomer, postCustomer } };
}

test("a client reading another subtree's store fails with the persona, the store and the fix", async () => {
  const id = rootId('my-app');
  const { db, client } = customerServer(id`customer-server`);
  onDeploy(id`example-client`, async () => {
    await client.postCustomer({ id: '1', name: 'John Doe' });
    await db.get('1');
  });
  const { lines, log } = capture();
  assert.is(await runPersona({ root: id, persona: '', log, setExitCode: false }), 1);
  assert.match(
    lines.join('\n'),
    'Persona my-app.example-client may not use Store my-app.customer-server.db: only personas under my-app.customer-server get its credentials and network. Reach the data through an API under my-app.customer-server, or move this code into a persona there',
  );
});

test("the server's own handlers, and tasks in its subtree, may use its store", async () => {
  const id = rootId('my-app');
  const { db, client } = customerServer(id`customer-server`);
  let seen: unknown;
  onDeploy(id`customer-server`.child('seed'), async () => {
    await db.set('2', { id: '2', name: 'Seeded' });
  });
  onDeploy(id`example-client`, async () => {
    await client.postCustomer({ id: '1', name: 'John Doe' });
    seen = await client.getCustomer('1');
  });
  assert.is(await runPersona({ root: id, persona: '', log: capture().log, setExitCode: false }), 0);
  assert.equal(seen, { id: '1', name: 'John Doe' });
});

test('declared use: a persona calls only the APIs it lists', async () => {
  const id = rootId('uses');
  const a = new ApiServer(id`a`);
  const b = new ApiServer(id`b`);
  const pingA = a.defineEndpoint('/ping', () => 'a', { method: 'GET' });
  const pingB = b.defineEndpoint('/ping', () => 'b', { method: 'GET' });
  let got = '';
  onDeploy(
    id`client`,
    async () => {
      got = await pingA();
      await pingB();
    },
    { uses: [{ pingA }] },
  );
  const { lines, log } = capture();
  assert.is(await runPersona({ root: id, persona: '', log, setExitCode: false }), 1);
  assert.is(got, 'a');
  assert.match(
    lines.join('\n'),
    'Persona uses.client may not call ApiServer uses.b (GET /ping): its uses option lists uses.a. Add the client you were given to it, e.g. onDeploy(id, fn, { uses: [client] })',
  );
});

test('uses accepts ApiServers, client functions and objects of them, and refuses anything else', () => {
  const id = rootId('forms');
  const a = new ApiServer(id`a`);
  const b = new ApiServer(id`b`);
  const getA = a.defineEndpoint('/x', () => 1, { method: 'GET' });
  const w = new Worker(id`w`, () => {}, { uses: [b, { nested: { getA } }] });
  assert.equal(w.uses!.map((s) => s.id.value).sort(), ['forms.a', 'forms.b']);
  assert.throws(
    () => onDeploy(id`bad`, () => {}, { uses: [{ name: 'not an api' }] }),
    /forms\.bad: uses\[0\]\.name is not an API/,
  );
  assert.throws(() => onDeploy(id`bad2`, () => {}, { uses: [() => 1] }), /forms\.bad2: uses\[0\] is not an API/);
});

test('edges and token readers follow declared use', () => {
  const id = rootId('edges');
  const { client } = customerServer(id`server`);
  const other = new ApiServer(id`other`);
  onDeploy(id`client`, () => {}, { uses: [client] });
  new Worker(id`free`, () => {});
  const app = appOf(id);
  const lines = edges(app).map((e) => `${e.from.id.value} ${e.kind} ${e.to.id.value}`);
  assert.equal(lines.sort(), [
    'edges.client calls edges.server.api',
    'edges.free calls edges.other',
    'edges.free calls edges.server.api',
    'edges.other calls edges.server.api',
    'edges.server.api calls edges.other',
    'edges.server.api uses edges.server.db',
  ]);
  const token = (app.find('edges.server.api') as ApiServer).token!;
  assert.ok(token.readableBy(id`client`));
  assert.ok(token.readableBy(id`server`.child('api')));
  assert.not.ok(token.readableBy(id`nobody`));
  assert.not.ok(other.token!.readableBy(id`client`));
  assert.is(new ApiServer(id`open`, { public: true }).token, undefined);
});

test('the tree fingerprint changes with the tree and names the differing IDs', () => {
  const make = (extra: boolean) => {
    const id = rootId('fp');
    customerServer(id`server`);
    onDeploy(id`client`, () => {});
    if (extra) new Store(id`client`.child('cache'));
    return appOf(id);
  };
  const before = treeListing(make(false));
  const same = treeListing(make(false));
  const after = make(true);
  assert.is(treeFingerprint(before), treeFingerprint(same));
  assert.is.not(treeFingerprint(before), treeFingerprint(treeListing(after)));
  assert.equal(differingIds(before, treeListing(after)), ['fp.client', 'fp.client.cache', 'fp.client.cache.password']);
  assert.throws(
    () => assertSameTree(after, 'fp.client', treeFingerprint(before), JSON.stringify(before)),
    /Persona fp\.client refuses to run: its component tree differs from the one the build saw, at fp\.client, fp\.client\.cache, fp\.client\.cache\.password\. The code changed since `npm run infra:build`/,
  );
  assertSameTree(make(false), 'fp.client', treeFingerprint(before), JSON.stringify(before));
});

test('the tree fingerprint covers what an ApiServer serves: routes, methods, input schemas, public', () => {
  type Variant = { route?: string; method?: 'GET' | 'POST'; input?: object; public?: boolean; extra?: boolean };
  const make = (v: Variant = {}) => {
    const id = rootId('serves');
    const api = new ApiServer(id`api`, { public: v.public ?? false });
    api.defineEndpoint(v.route ?? '/customer', (arg: unknown) => arg, {
      method: v.method ?? 'GET',
      ...(v.input ? { input: v.input as any } : {}),
    });
    if (v.extra) api.defineEndpoint('/admin/drop', () => undefined, { method: 'POST' });
    return treeListing(appOf(id));
  };
  const base = make();
  assert.equal(make(), base);
  const variants: Variant[] = [
    { extra: true },
    { route: '/customers' },
    { method: 'POST' },
    { public: true },
    { input: Type.String() },
  ];
  for (const variant of variants) {
    const listing = make(variant);
    assert.is.not(treeFingerprint(listing), treeFingerprint(base), JSON.stringify(variant));
    // A public API also has no token (one more differing ID).
    assert.equal(differingIds(base, listing), variant.public ? ['serves.api', 'serves.api.token'] : ['serves.api']);
  }
  assert.is.not(
    treeFingerprint(make({ input: Type.String() })),
    treeFingerprint(make({ input: Type.Number() })),
    'another schema is another tree',
  );
});

test('a deployed persona given no tree fingerprint refuses to start, saying where one comes from', () => {
  const id = rootId('nofp');
  onDeploy(id`task`, () => {});
  for (const missing of [undefined, '']) {
    try {
      assertSameTree(appOf(id), 'nofp.task', missing, undefined);
      assert.unreachable('no fingerprint, no start');
    } catch (err) {
      assert.is((err as InfraError).code, 'INFRA_NO_TREE_FINGERPRINT');
      assert.match(
        (err as Error).message,
        'Persona nofp.task refuses to run: its environment has no INFRA_TREE_FINGERPRINT, so it cannot check',
      );
    }
  }
});

test('storesUsable finds by owner exactly the Stores mayUseStore allows', () => {
  const id = rootId('own');
  const stores = [
    new Store(id`a`.child('db')),
    new Store(id`a`.child('b').child('db')),
    new Store(id`top`),
    new Store(id`c`.child('db')),
  ];
  const personas = [
    onDeploy(id`a`.child('task'), () => {}),
    onDeploy(id`a`.child('b').child('task'), () => {}),
    onDeploy(id`c`.child('x').child('task'), () => {}),
    onDeploy(id`lone`, () => {}),
    new ApiServer(id`a`.child('b'), { uses: [] }),
  ];
  const usable = storesUsable(stores);
  for (const p of personas) {
    const names = (list: Store[]) => list.map((s) => s.id.value).sort();
    assert.equal(names(usable(p)), names(stores.filter((s) => mayUseStore(p, s))), p.id.value);
  }
  assert.equal(
    usable(personas[1])
      .map((s) => s.id.value)
      .sort(),
    ['own.a.b.db', 'own.a.db', 'own.top'].sort(),
  );
});

test('the listing says once that a persona without `uses` calls every API; declaring some changes it', () => {
  const make = (declared: boolean) => {
    const id = rootId('fp2');
    const a = new ApiServer(id`a`, { uses: [] });
    new ApiServer(id`b`, { uses: [] });
    onDeploy(id`client`, () => {}, declared ? { uses: [a] } : {});
    return appOf(id)!;
  };
  const open = treeListing(make(false));
  assert.ok(open.includes('fp2.client calls *'), open.join('\n'));
  assert.not.ok(
    open.some((l) => l.startsWith('fp2.client calls fp2.')),
    'not one line per API',
  );
  const declared = treeListing(make(true));
  assert.ok(declared.includes('fp2.client calls fp2.a'));
  assert.equal(differingIds(open, declared), ['fp2.a', 'fp2.client']);
});

test('one process: a persona cannot reach a store, a password or a token through public objects', async () => {
  const id = rootId('walk');
  const { db, client } = customerServer(id`customer-server`);
  const byName = new db.Index(id`customer-server`.child('by-name'), (c: { name: string }) => [{ indexKey: c.name }]);
  const api = appOf(id).find('walk.customer-server.api') as ApiServer;
  const app = appOf(id);
  const tried: Record<string, unknown> = {};
  onDeploy(
    id`intruder`,
    async () => {
      // What a public property or method would have handed out: none is there.
      tried.backend = (db as any).backend;
      tried.indexBackend = (byName.store as any).backend;
      tried.platform = (app as any).platform;
      tried.runAs = (app as any).runAs;
      tried.keys = [...Object.keys(db), ...Object.getOwnPropertyNames(Object.getPrototypeOf(db))].filter((k) =>
        /backend|platform|storage/i.test(k),
      );
      tried.password = await Promise.resolve()
        .then(() => db.password.get())
        .catch((e: unknown) => e);
      tried.token = await Promise.resolve()
        .then(() => api.token!.get())
        .catch((e: unknown) => e);
    },
    { uses: [] },
  );
  onDeploy(id`customer-server`.child('seed'), async () => {
    tried.ownPassword = db.password.get();
    await client.postCustomer({ id: '1', name: 'Ann' });
  });
  const { lines, log } = capture();
  assert.is(await runPersona({ root: id, persona: '', log, setExitCode: false }), 0, lines.join('\n'));
  assert.is(tried.backend, undefined);
  assert.is(tried.indexBackend, undefined);
  assert.is(tried.platform, undefined);
  assert.is(tried.runAs, undefined);
  assert.equal(tried.keys, []);
  const password = tried.password as InfraError;
  assert.is(password.code, 'INFRA_VALUE_NOT_ALLOWED');
  assert.is(
    password.message,
    "Persona walk.intruder may not read Password walk.customer-server.db.password: only personas under walk.customer-server get it (deployed, no other persona's environment holds it). Ask a persona that may read it, through its API, or move this code into one of them",
  );
  assert.is((tried.token as InfraError).code, 'INFRA_VALUE_NOT_ALLOWED');
  assert.match((tried.token as InfraError).message, 'may not read Secret walk.customer-server.api.token');
  assert.type(tried.ownPassword, 'string');
});

test("one process: the running tree cannot be rewired to run code with another persona's rights", async () => {
  const id = rootId('rewire');
  const { db, client } = customerServer(id`customer-server`);
  const api = appOf(id).find('rewire.customer-server.api') as ApiServer;
  const seed = onDeploy(id`customer-server`.child('seed'), async () => {
    await db.set('secret', { id: 'secret', name: 'owner-only' });
  });
  const attempts: Record<string, unknown> = {};
  const attempt = (name: string, fn: () => unknown) => {
    try {
      fn();
      attempts[name] = 'done';
    } catch (err) {
      attempts[name] = (err as Error).constructor.name;
    }
  };
  onDeploy(
    id`intruder`,
    async () => {
      // Each would run the intruder's code as the server, or as a persona under the store's owner.
      attempt('swap a handler', () => ((api.endpoints[0] as any).handler = async () => db.get('secret')));
      attempt('add an endpoint record', () => (api.endpoints as any).push({ ...api.endpoints[0] }));
      attempt('loosen a check', () => ((api.endpoints[0] as any).input = undefined));
      attempt("replace a task's start", () => ((seed as any).start = async () => db.get('secret')));
      attempt("widen one's own uses", () => ((appOf(id).find('rewire.intruder') as any).uses as unknown[]).push(api));
      attempt('add an index', () => (db.indexes as unknown[]).push({}));
      attempt("change a client's endpoint", () => ((client.getCustomer as any).name = 'x'));
    },
    { uses: [client.getCustomer] },
  );
  const { lines, log } = capture();
  assert.is(await runPersona({ root: id, persona: '', log, setExitCode: false }), 0, lines.join('\n'));
  assert.equal(attempts, {
    'swap a handler': 'TypeError',
    'add an endpoint record': 'TypeError',
    'loosen a check': 'TypeError',
    "replace a task's start": 'TypeError',
    "widen one's own uses": 'TypeError',
    'add an index': 'TypeError',
    "change a client's endpoint": 'TypeError',
  });
});

test('one process: code that runs as no persona (a timer set at startup) may not use a Store or read a secret', async () => {
  const id = rootId('timer');
  const { db } = customerServer(id`customer-server`);
  // Set at startup: its callbacks run in no persona's context, whichever persona is running then.
  const outcome = new Promise<unknown[]>((resolve) =>
    setTimeout(() => {
      const attempts = [() => db.set('k', 'written by nobody'), () => db.get('k'), () => db.password.get()];
      void Promise.all(
        attempts.map((f) =>
          Promise.resolve()
            .then(f)
            .catch((e: unknown) => e),
        ),
      ).then(resolve);
    }, 10),
  );
  let seen: unknown[] = [];
  onDeploy(id`waits`, async () => {
    seen = await outcome;
  });
  let stored: unknown = 'unread';
  onDeploy(id`customer-server`.child('check'), async () => {
    await outcome;
    stored = await db.get('k');
  });
  const { lines, log } = capture();
  assert.is(await runPersona({ root: id, persona: '', log, setExitCode: false }), 0, lines.join('\n'));
  assert.is(seen.length, 3);
  for (const err of seen) assert.is((err as InfraError).code, 'INFRA_OUTSIDE_PERSONA');
  assert.is(
    (seen[0] as Error).message,
    "Store timer.customer-server.db: set() was called by code that runs as no persona (a timer or callback set up at startup, outside every server, worker and task), so it cannot be told which persona may use it; deployed, that code would run in every persona's process. Start it from a persona instead: a Worker, an onDeploy task or an endpoint handler",
  );
  assert.match(
    (seen[2] as Error).message,
    /^Password timer\.customer-server\.db\.password: get\(\) was called by code/,
  );
  assert.is(stored, undefined, 'nothing was written');
});

test.run();
