/**
 * The Store contract: what every Store implementation must do, written once and run against
 * each (memory in store-memory.test.ts, PostgreSQL in store-postgres.test.ts).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { rootId, appOf, Store, type App } from 'infra-generator';
import type { Platform } from 'infra-generator/internal/core/platform';
import type { ComponentPlatform } from 'infra-generator/internal/components/platform';

export interface StoreHarness {
  /** Shown in the suite's name. */
  name: string;
  /** The platform whose backends the suite tests; called once per test with a fresh app. */
  platform(app: App): Platform | Promise<Platform>;
  /** Runs after the whole suite (e.g. to drop tables). */
  after?(): Promise<void>;
}

interface Item {
  name: string;
  tags?: string[];
  n?: number;
}

export function storeContract(harness: StoreHarness): void {
  const test = suite(`Store contract: ${harness.name}`);
  const platforms: Platform[] = [];
  let counter = 0;
  const run = randomBytes(3).toString('hex');

  async function fixture() {
    const root = rootId(`contract-${run}-${counter++}`);
    const store = new Store<Item>(root`items`);
    const byTag = new store.Index(root`items-by-tag`, (item) =>
      (item?.tags ?? []).map((tag) => ({ indexKey: tag, inlineValue: { name: item.name } })),
    );
    /** Another store of the same app, for calls across stores. */
    const other = new Store<Item>(root`other`);
    const app = appOf(root);
    const platform = await harness.platform(app);
    platforms.push(platform);
    app.enter('runtime', platform);
    return { store, byTag, other, app };
  }

  /** A store whose index by name throws for the name 'bad'. */
  async function refusingIndexFixture() {
    const root = rootId(`contract-${run}-${counter++}`);
    const store = new Store<Item>(root`items`);
    const index = new store.Index(root`by-name`, (item) => {
      if (item.name === 'bad') throw new Error('indexer refused');
      return [{ indexKey: item.name }];
    });
    const platform = await harness.platform(appOf(root));
    platforms.push(platform);
    appOf(root).enter('runtime', platform);
    return { store, index };
  }

  /** Settles like `promise`, or rejects after `seconds`: a hang fails the test instead of stalling it. */
  function settlesWithin<R>(promise: Promise<R>, seconds: number, what: string): Promise<R> {
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle within ${seconds} s`)), seconds * 1000);
    });
    return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
  }

  /** Strings in code-point order (PostgreSQL's "C" collation's), not UTF-16's. */
  function codePointOrder(x: string, y: string): number {
    const a = [...x].map((c) => c.codePointAt(0)!);
    const b = [...y].map((c) => c.codePointAt(0)!);
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  }

  async function rejects(promise: Promise<unknown>, pattern: RegExp, code?: string): Promise<void> {
    try {
      await promise;
    } catch (err) {
      assert.match((err as Error).message, pattern);
      if (code) assert.is((err as { code?: string }).code, code);
      return;
    }
    assert.unreachable(`expected a rejection matching ${pattern}`);
  }

  test.after(async () => {
    await Promise.all(platforms.map((p) => p.close()));
    await harness.after?.();
  });

  test('a missing key reads as undefined', async () => {
    const { store } = await fixture();
    assert.is(await store.get('nobody'), undefined);
    assert.is(await store.has('nobody'), false);
  });

  test('set then get gives an equal copy, never a shared reference', async () => {
    const { store } = await fixture();
    const value = { name: 'Ada', tags: ['x'] };
    await store.set('1', value);
    value.name = 'changed after set';
    const got = await store.get('1');
    assert.equal(got, { name: 'Ada', tags: ['x'] });
    got!.name = 'changed after get';
    assert.equal(await store.get('1'), { name: 'Ada', tags: ['x'] });
    assert.is(await store.has('1'), true);
  });

  test('values are what a JSON round trip gives', async () => {
    const { store } = await fixture();
    const when = new Date('2026-01-02T03:04:05.000Z');
    await store.set('j', {
      name: 'J',
      when,
      gone: undefined,
      nan: NaN,
      nested: [1, 'two', null, { deep: true }],
    } as unknown as Item);
    assert.equal(await store.get('j'), {
      name: 'J',
      when: '2026-01-02T03:04:05.000Z',
      nan: null,
      nested: [1, 'two', null, { deep: true }],
    });
    await store.set('s', 'a plain string' as unknown as Item);
    assert.is(await store.get('s'), 'a plain string');
    await store.set('zero', 0 as unknown as Item);
    assert.is(await store.get('zero'), 0);
    await store.set('null', null as unknown as Item);
    assert.is(await store.get('null'), null);
    assert.is(await store.has('null'), true);
  });

  test('unicode keys and values, and a large value, round-trip', async () => {
    const { store } = await fixture();
    const key = 'kéy-日本-😀';
    await store.set(key, { name: 'naïve café ☕ 😀 \u0000 nul' });
    assert.equal(await store.get(key), { name: 'naïve café ☕ 😀 \u0000 nul' });
    const big = { name: 'x'.repeat(1_000_000) };
    await store.set('big', big);
    assert.is((await store.get('big'))!.name.length, 1_000_000);
  });

  test('set(undefined) and del delete', async () => {
    const { store } = await fixture();
    await store.set('a', { name: 'A' });
    await store.set('a', undefined);
    assert.is(await store.has('a'), false);
    await store.set('b', { name: 'B' });
    await store.del('b');
    assert.is(await store.get('b'), undefined);
    await store.del('never-there');
  });

  test('bad keys and non-JSON values are refused, and change nothing', async () => {
    const { store } = await fixture();
    await rejects(store.get(''), /Store contract-.*\.items: a key must be a non-empty string/, 'INFRA_INVALID_KEY');
    await rejects(store.set(42 as unknown as string, { name: 'x' }), /non-empty string/, 'INFRA_INVALID_KEY');
    await rejects(
      store.set('nul\u0000key', { name: 'x' }),
      /contains U\+0000 or an unpaired surrogate/,
      'INFRA_INVALID_KEY',
    );
    await rejects(store.get('lone\ud800'), /contains U\+0000 or an unpaired surrogate/, 'INFRA_INVALID_KEY');
    await store.set('k', { name: 'kept' });
    await rejects(
      store.set('k', { name: 'big', n: 10n } as unknown as Item),
      /not JSON-serialisable/,
      'INFRA_NOT_JSON',
    );
    const cyclic: Record<string, unknown> = { name: 'c' };
    cyclic.self = cyclic;
    await rejects(store.set('k', cyclic as unknown as Item), /not JSON-serialisable/, 'INFRA_NOT_JSON');
    assert.equal(await store.get('k'), { name: 'kept' });
  });

  test('modify creates, updates and deletes, and resolves to the value written', async () => {
    const { store } = await fixture();
    assert.equal(await store.modify('m', (old) => ({ name: 'M', n: (old?.n ?? 0) + 1 })), { name: 'M', n: 1 });
    assert.equal(await store.modify('m', async (old) => ({ ...old!, n: old!.n! + 1 })), { name: 'M', n: 2 });
    assert.equal(await store.get('m'), { name: 'M', n: 2 });
    assert.is(await store.modify('m', () => undefined), undefined);
    assert.is(await store.has('m'), false);
  });

  test('modify whose function throws changes nothing', async () => {
    const { store } = await fixture();
    await store.set('t', { name: 'T', n: 1 });
    await rejects(
      store.modify('t', () => {
        throw new Error('no thanks');
      }),
      /no thanks/,
    );
    assert.equal(await store.get('t'), { name: 'T', n: 1 });
  });

  test('50 concurrent modify calls on one key lose no update', async () => {
    const { store } = await fixture();
    await Promise.all(
      Array.from({ length: 50 }, () =>
        store.modify('counter', async (old) => {
          await new Promise((r) => setTimeout(r, Math.random() * 3));
          return { name: 'counter', n: (old?.n ?? 0) + 1 };
        }),
      ),
    );
    assert.equal(await store.get('counter'), { name: 'counter', n: 50 });
  });

  test('allKeys yields every key once, in code-point order, batch by batch', async () => {
    const { store } = await fixture();
    const empty: string[] = [];
    for await (const key of store.allKeys()) empty.push(key);
    assert.equal(empty, []);
    const keys = Array.from({ length: 57 }, (_, i) => `key-${String(i).padStart(3, '0')}`).concat([
      'B',
      'a',
      'Z',
      'é',
      '😀',
      '\uffff',
    ]);
    for (const key of keys) await store.set(key, { name: key });
    const seen: string[] = [];
    for await (const key of store.allKeys({ batchSize: 7 })) seen.push(key);
    const byCodePoint = [...keys].sort((x, y) => {
      const a = [...x].map((c) => c.codePointAt(0)!);
      const b = [...y].map((c) => c.codePointAt(0)!);
      for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
      return a.length - b.length;
    });
    assert.equal(seen, byCodePoint);
    const exact: string[] = [];
    for await (const key of store.allKeys({ batchSize: keys.length })) exact.push(key);
    assert.is(exact.length, keys.length);
    await rejects(
      (async () => {
        for await (const _ of store.allKeys({ batchSize: 0 })) void _;
      })(),
      /batchSize must be a positive integer/,
    );
  });

  test('getMany gives the values of the keys in their order, undefined where missing, copies', async () => {
    const { store } = await fixture();
    await store.set('b', { name: 'B' });
    await store.set('a', { name: 'A', tags: ['x'] });
    const values = await store.getMany(['b', 'missing', 'a', 'b']);
    assert.equal(values, [{ name: 'B' }, undefined, { name: 'A', tags: ['x'] }, { name: 'B' }]);
    assert.is.not(values[0], values[3], 'each a copy of its own');
    assert.equal(await store.getMany([]), []);
    const many = Array.from({ length: 500 }, (_, i) => `k${i}`);
    for (const key of many.slice(0, 250)) await store.set(key, { name: key });
    const got = await store.getMany(many);
    assert.equal(
      got.map((v) => v?.name),
      many.map((k, i) => (i < 250 ? k : undefined)),
    );
    await rejects(store.getMany(['a', '']), /a key must be a non-empty string/, 'INFRA_INVALID_KEY');
    await rejects(
      store.getMany('a' as unknown as string[]),
      /getMany\(\) takes an array of keys/,
      'INFRA_INVALID_KEYS',
    );
  });

  test('entries yields every [key, value] in code-point order, batch by batch; a prefix keeps those it starts', async () => {
    const { store } = await fixture();
    const collect = async (options?: { prefix?: string; batchSize?: number }) => {
      const out: [string, Item][] = [];
      for await (const entry of store.entries(options)) out.push(entry);
      return out;
    };
    assert.equal(await collect(), []);
    const keys = [
      'user:2',
      'user:10',
      'user:1',
      'order:1',
      'user',
      'user;',
      'users:1',
      'é:1',
      'é',
      'ê',
      '😀:1',
      '😀',
      'z',
    ];
    for (const key of keys) await store.set(key, { name: key.toUpperCase() });
    const all = await collect({ batchSize: 4 });
    assert.equal(
      all.map(([key]) => key),
      [...keys].sort(codePointOrder),
    );
    assert.equal(all.find(([key]) => key === 'é:1')![1], { name: 'É:1' });
    const keysOf = async (prefix: string, batchSize = 2) => (await collect({ prefix, batchSize })).map(([key]) => key);
    assert.equal(await keysOf('user:'), ['user:1', 'user:10', 'user:2']);
    assert.equal(await keysOf('user'), ['user', 'user:1', 'user:10', 'user:2', 'user;', 'users:1']);
    assert.equal(await keysOf('é'), ['é', 'é:1']);
    assert.equal(await keysOf('😀'), ['😀', '😀:1']);
    assert.equal(await keysOf('nobody'), []);
    assert.equal(await keysOf(''), [...keys].sort(codePointOrder));
    // allKeys takes the same prefix.
    const prefixed: string[] = [];
    for await (const key of store.allKeys({ prefix: 'user:', batchSize: 1 })) prefixed.push(key);
    assert.equal(prefixed, ['user:1', 'user:10', 'user:2']);
    for (const [options, pattern, code] of [
      [{ batchSize: 0 }, /entries\(\) batchSize must be a positive integer/, 'INFRA_BATCH_SIZE'],
      [{ prefix: 1 }, /prefix must be a string/, 'INFRA_INVALID_PREFIX'],
      [{ prefix: 'a\u0000' }, /contains U\+0000/, 'INFRA_INVALID_PREFIX'],
      [{ prefix: 'x'.repeat(1025) }, /at most 1024 bytes/, 'INFRA_INVALID_PREFIX'],
    ] as const)
      await rejects(collect(options as never), pattern, code);
  });

  test('setMany writes and deletes many keys at once, keeps the last of a repeated key, and updates the indexes', async () => {
    const { store, byTag } = await fixture();
    await store.set('gone', { name: 'Gone', tags: ['red'] });
    await store.set('kept', { name: 'Kept', tags: ['red'] });
    await store.setMany([
      ['a', { name: 'A', tags: ['red', 'blue'] }],
      ['gone', undefined],
      ['b', { name: 'first' }],
      ['kept', { name: 'Kept2', tags: ['blue'] }],
      ['b', { name: 'B', tags: ['blue'] }],
    ]);
    assert.equal(await store.getMany(['a', 'b', 'gone', 'kept']), [
      { name: 'A', tags: ['red', 'blue'] },
      { name: 'B', tags: ['blue'] },
      undefined,
      { name: 'Kept2', tags: ['blue'] },
    ]);
    assert.equal(await byTag.get('red'), [{ key: 'a', inlineValue: { name: 'A' } }]);
    assert.equal(
      (await byTag.get('blue')).map((hit) => hit.key),
      ['a', 'b', 'kept'],
    );
    // A Map works too, an empty batch does nothing, and 1,000 entries go in one call.
    await store.setMany(new Map([['m', { name: 'M' }]]));
    await store.setMany([]);
    const many = Array.from(
      { length: 1000 },
      (_, i) => [`n${String(i).padStart(4, '0')}`, { name: `v${i}`, tags: [`t${i % 3}`] }] as [string, Item],
    );
    await store.setMany(many);
    assert.equal((await byTag.get('t1')).length, 333);
    const listed: [string, Item][] = [];
    for await (const entry of store.entries({ prefix: 'n' })) listed.push(entry);
    assert.equal(listed, many);
    assert.equal(await store.get('m'), { name: 'M' });
  });

  test('setMany is all or nothing: a bad key, a non-JSON value or a throwing indexer changes no key', async () => {
    const { store, index } = await refusingIndexFixture();
    await store.setMany([
      ['a', { name: 'a0' }],
      ['b', { name: 'b0' }],
    ]);
    const before = [{ name: 'a0' }, { name: 'b0' }, undefined];
    await rejects(
      store.setMany([
        ['a', { name: 'a1' }],
        ['c', { name: 'bad' }],
        ['b', undefined],
      ]),
      /indexer refused/,
    );
    assert.equal(await store.getMany(['a', 'b', 'c']), before);
    await rejects(
      store.setMany([
        ['a', { name: 'a1' }],
        ['', { name: 'x' }],
      ]),
      /a key must be a non-empty string/,
      'INFRA_INVALID_KEY',
    );
    await rejects(
      store.setMany([
        ['a', { name: 'a1' }],
        ['b', { name: 'x', n: 1n } as unknown as Item],
      ]),
      /Store contract-.*\.items/,
      'INFRA_NOT_JSON',
    );
    await rejects(
      store.setMany('ab' as never),
      /setMany\(\) takes an iterable of \[key, value\] pairs/,
      'INFRA_INVALID_ENTRIES',
    );
    await rejects(store.setMany(null as never), /got null/, 'INFRA_INVALID_ENTRIES');
    await rejects(
      store.setMany([['a', { name: 'a1' }], ['b']] as never),
      /got an array of 1 among them/,
      'INFRA_INVALID_ENTRIES',
    );
    assert.equal(await store.getMany(['a', 'b', 'c']), before);
    assert.equal(await index.get('a0'), [{ key: 'a', inlineValue: undefined }]);
    assert.equal(await index.get('a1'), []);
  });

  test('concurrent setMany calls on overlapping keys in opposite orders, with modify and set, neither deadlock nor leave an index out of step', async () => {
    const { store, byTag } = await fixture();
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
    // Each batch writes the same n to all its keys: as a batch is atomic, every key a later
    // batch did not touch keeps a value some batch gave it, and the index matches the values.
    const batches = Array.from({ length: 30 }, (_, w) => {
      const mine = (w % 2 === 0 ? keys : [...keys].reverse()).filter((_, i) => (i + w) % 3 !== 0);
      return store.setMany(mine.map((key) => [key, { name: key, n: w, tags: [`w${w % 4}`] }]));
    });
    const singles = Array.from({ length: 30 }, (_, i) =>
      i % 2 === 0
        ? store.modify(keys[i % 6]!, (old) => ({ name: keys[i % 6]!, n: (old?.n ?? 0) + 1000, tags: ['m'] }))
        : store.set(keys[i % 6]!, { name: keys[i % 6]!, n: -1, tags: ['s'] }),
    );
    await settlesWithin(Promise.all([...batches, ...singles]), 30, 'the concurrent writes');
    const values = await store.getMany(keys);
    for (const tag of ['w0', 'w1', 'w2', 'w3', 'm', 's']) {
      const expected = keys.filter((_, i) => values[i]?.tags?.includes(tag));
      assert.equal(
        (await byTag.get(tag)).map((hit) => hit.key),
        expected,
        `index entries for tag ${tag}`,
      );
    }
  });

  test('setMany of a key being modified, from inside its modify function, fails at once', async () => {
    const { store } = await fixture();
    await store.modify('k', async () => {
      await rejects(
        settlesWithin(
          store.setMany([
            ['other', { name: 'o' }],
            ['k', { name: 'inner' }],
          ]),
          3,
          'setMany() inside modify()',
        ),
        /^Store contract-.*\.items: setMany\("k"\) was called inside modify\("k"\) of the same key/,
        'INFRA_MODIFY_REENTRANT',
      );
      return { name: 'outer' };
    });
    assert.equal(await store.getMany(['k', 'other']), [{ name: 'outer' }, undefined]);
  });

  test('an index finds keys by each of the index keys a value yields', async () => {
    const { store, byTag } = await fixture();
    await store.set('2', { name: 'Bo', tags: ['red', 'blue'] });
    await store.set('1', { name: 'Al', tags: ['red'] });
    await store.set('3', { name: 'Cy', tags: [] });
    assert.equal(await byTag.get('red'), [
      { key: '1', inlineValue: { name: 'Al' } },
      { key: '2', inlineValue: { name: 'Bo' } },
    ]);
    assert.equal(await byTag.get('blue', { retrieveValues: true }), [
      { key: '2', inlineValue: { name: 'Bo' }, value: { name: 'Bo', tags: ['red', 'blue'] } },
    ]);
    assert.equal(await byTag.get('green'), []);
  });

  test('an index follows updates, modify and deletes', async () => {
    const { store, byTag } = await fixture();
    await store.set('1', { name: 'Al', tags: ['red', 'red'] });
    assert.equal(await byTag.get('red'), [{ key: '1', inlineValue: { name: 'Al' } }]);
    await store.set('1', { name: 'Al2', tags: ['blue'] });
    assert.equal(await byTag.get('red'), []);
    assert.equal(await byTag.get('blue'), [{ key: '1', inlineValue: { name: 'Al2' } }]);
    await store.modify('1', (old) => ({ ...old!, tags: ['green'] }));
    assert.equal(await byTag.get('blue'), []);
    assert.equal(await byTag.get('green'), [{ key: '1', inlineValue: { name: 'Al2' } }]);
    await store.del('1');
    assert.equal(await byTag.get('green'), []);
  });

  test("an index read whole (the dev dashboard's): index key then key, in code-point order, a page at a time", async () => {
    const { store, byTag } = await fixture();
    const backend = (platforms.at(-1) as unknown as ComponentPlatform).storeBackend(store);
    await store.set('b', { name: 'B', tags: ['é', 'a'] });
    await store.set('a', { name: 'A', tags: ['a', 'Z'] });
    await store.set('c', { name: 'C' });
    const rows = (list: { indexKey: string; key: string }[]) => list.map((r) => `${r.indexKey}/${r.key}`);
    const all = await backend.indexEntries(byTag, undefined, 100);
    assert.equal(rows(all), ['Z/a', 'a/a', 'a/b', 'é/b']);
    assert.equal(all[0]!.inlineValue, { name: 'A' });
    const first = await backend.indexEntries(byTag, undefined, 2);
    const second = await backend.indexEntries(byTag, first.at(-1), 2);
    assert.equal(rows([...first, ...second]), rows(all));
    assert.equal(await backend.indexEntries(byTag, second.at(-1), 2), []);
    // The row a page ended on has gone meanwhile: the next page still starts after it.
    await store.del('a');
    assert.equal(rows(await backend.indexEntries(byTag, { indexKey: 'a', key: 'a' }, 10)), ['a/b', 'é/b']);
  });

  test('an indexer that throws fails the write and changes nothing', async () => {
    const { store, index } = await refusingIndexFixture();
    await store.set('k', { name: 'good' });
    await rejects(store.set('k', { name: 'bad' }), /indexer refused/);
    assert.equal(await store.get('k'), { name: 'good' });
    assert.equal(await index.get('good'), [{ key: 'k', inlineValue: undefined }]);
  });

  test('an index key PostgreSQL cannot hold fails the write in every mode', async () => {
    const { store, byTag } = await fixture();
    await store.set('k', { name: 'kept', tags: ['ok'] });
    await rejects(
      store.set('k', { name: 'bad', tags: ['fine', 'nul\u0000'] }),
      /Index contract-.*\.items-by-tag: key/,
      'INFRA_INVALID_INDEX_KEY',
    );
    assert.equal(await store.get('k'), { name: 'kept', tags: ['ok'] });
    assert.equal(await byTag.get('fine'), []);
  });

  test('20 concurrent writers on overlapping keys leave the index matching the values', async () => {
    const { store, byTag } = await fixture();
    const tags = ['a', 'b', 'c', 'd'];
    await Promise.all(
      Array.from({ length: 20 }, (_, w) =>
        (async () => {
          for (let i = 0; i < 10; i++) {
            const key = `k${(w + i) % 6}`;
            await store.modify(key, (old) => ({
              name: key,
              n: (old?.n ?? 0) + 1,
              tags: [tags[(w + i) % 4], tags[(w * i) % 4]],
            }));
          }
        })(),
      ),
    );
    let total = 0;
    const expected = new Map<string, string[]>();
    for await (const key of store.allKeys()) {
      const value = (await store.get(key))!;
      total += value.n!;
      for (const tag of new Set(value.tags)) expected.set(tag, [...(expected.get(tag) ?? []), key]);
    }
    assert.is(total, 200);
    for (const tag of tags) {
      const hits = (await byTag.get(tag)).map((h) => h.key);
      assert.equal(hits, (expected.get(tag) ?? []).sort(), `index entries for tag ${tag}`);
    }
  });

  test('invalid keys are refused by every call, whatever the key, with the store or index named', async () => {
    const { store, byTag } = await fixture();
    const badKeys: unknown[] = [undefined, 42, {}, '', '\u0000', 'a\u0000b', 'lone \ud800', '\udc00'];
    for (const key of badKeys) {
      const k = key as string;
      const calls: [string, () => Promise<unknown>][] = [
        ['get', () => store.get(k)],
        ['has', () => store.has(k)],
        ['set', () => store.set(k, { name: 'x' })],
        ['del', () => store.del(k)],
        ['modify', () => store.modify(k, () => ({ name: 'x' }))],
      ];
      for (const [what, call] of calls) {
        await rejects(call(), /^Store contract-.*\.items: /, 'INFRA_INVALID_KEY').catch((err: Error) => {
          throw new Error(`${what}(${JSON.stringify(key) ?? 'undefined'}): ${err.message}`);
        });
      }
    }
    for (const key of [undefined, 42, {}, '\u0000', 'a\u0000b', 'lone \ud800']) {
      await rejects(byTag.get(key as string), /^Index contract-.*\.items-by-tag: /, 'INFRA_INVALID_INDEX_KEY').catch(
        (err: Error) => {
          throw new Error(`index get(${JSON.stringify(key) ?? 'undefined'}): ${err.message}`);
        },
      );
    }
    for await (const key of store.allKeys()) assert.unreachable(`nothing was stored, but ${key} is there`);
  });

  test('keys and index keys over 1,024 bytes of UTF-8 are refused alike, with the length and the limit named', async () => {
    const { store, byTag } = await fixture();
    // At the limit: a key and an index key of 1,024 bytes each, together in one index row.
    const key = 'k'.repeat(1020) + '😀';
    const indexKey = 'é'.repeat(512);
    assert.is(Buffer.byteLength(key), 1024);
    assert.is(Buffer.byteLength(indexKey), 1024);
    await store.set(key, { name: 'at the limit', tags: [indexKey] });
    assert.equal(await store.modify(key, (old) => ({ ...old!, n: 1 })), {
      name: 'at the limit',
      tags: [indexKey],
      n: 1,
    });
    assert.equal(await byTag.get(indexKey), [{ key, inlineValue: { name: 'at the limit' } }]);
    // Over it: one byte more, and far more (which PostgreSQL's B-tree cannot hold at all).
    for (const tooLong of ['k'.repeat(1021) + '😀', 'k'.repeat(1025), 'é'.repeat(513), 'x'.repeat(3000)]) {
      const bytes = Buffer.byteLength(tooLong);
      const message = new RegExp(`^Store contract-.*\\.items: a key of ${bytes} bytes .*at most 1024 bytes`);
      for (const call of [
        () => store.get(tooLong),
        () => store.has(tooLong),
        () => store.set(tooLong, { name: 'x' }),
        () => store.del(tooLong),
        () => store.modify(tooLong, () => ({ name: 'x' })),
      ])
        await rejects(call(), message, 'INFRA_KEY_TOO_LONG');
      const indexMessage = new RegExp(
        `^Index contract-.*\\.items-by-tag: an index key of ${bytes} bytes .*at most 1024 bytes`,
      );
      await rejects(store.set('short', { name: 'x', tags: ['ok', tooLong] }), indexMessage, 'INFRA_KEY_TOO_LONG');
      await rejects(
        store.modify(key, () => ({ name: 'x', tags: [tooLong] })),
        indexMessage,
        'INFRA_KEY_TOO_LONG',
      );
      await rejects(byTag.get(tooLong), indexMessage, 'INFRA_KEY_TOO_LONG');
    }
    assert.is(await store.has('short'), false);
    assert.equal(await byTag.get('ok'), []);
    assert.equal(await byTag.get(indexKey), [{ key, inlineValue: { name: 'at the limit' } }]);
    await store.del(key);
    assert.is(await store.has(key), false);
  });

  test('a write to the key being modified, from inside its modify function, fails at once with the store and key named', async () => {
    const { store, other } = await fixture();
    const refusals: [string, RegExp][] = [
      [
        'set',
        /^Store contract-.*\.items: set\("k"\) was called inside modify\("k"\) of the same key; return the new value from the function instead/,
      ],
      ['del', /^Store contract-.*\.items: del\("k"\) was called inside modify\("k"\) of the same key/],
      ['modify', /^Store contract-.*\.items: modify\("k"\) was called inside modify\("k"\) of the same key/],
    ];
    for (const [what, message] of refusals) {
      const written = await store.modify('k', async (old) => {
        const inner: Promise<unknown> =
          what === 'set'
            ? store.set('k', { name: 'inner' })
            : what === 'del'
              ? store.del('k')
              : store.modify('k', () => ({ name: 'inner' }));
        await rejects(
          settlesWithin(inner, 3, `${what}() inside modify() of the same key`),
          message,
          'INFRA_MODIFY_REENTRANT',
        );
        // Other keys of the store, and the same key of another store, may be written meanwhile.
        await store.set(`beside-${what}`, { name: 'beside' });
        await store.modify(`beside-${what}`, (o) => ({ ...o!, n: 1 }));
        await other.modify('k', (o) => ({ name: 'other', n: (o?.n ?? 0) + 1 }));
        return { name: 'outer', n: (old?.n ?? 0) + 1 };
      });
      assert.equal(written, { name: 'outer', n: refusals.findIndex(([w]) => w === what) + 1 });
      assert.equal(await store.get(`beside-${what}`), { name: 'beside', n: 1 });
    }
    assert.equal(await other.get('k'), { name: 'other', n: 3 });
    // Nested: modify of another key inside, whose own function writes the outer key.
    await rejects(
      store.modify('a', () =>
        store.modify('b', async () => {
          await settlesWithin(store.set('a', { name: 'x' }), 3, 'set() of the outer key inside a nested modify()');
          return { name: 'b' };
        }),
      ),
      /^Store contract-.*\.items: set\("a"\) was called inside modify\("a"\)/,
      'INFRA_MODIFY_REENTRANT',
    );
    // A call the function started but did not wait for runs once the modify is over, and is not refused.
    let later: Promise<void> | undefined;
    await store.modify('k', () => {
      later = new Promise((resolve) => setTimeout(resolve, 20)).then(() => store.set('k', { name: 'later' }));
      return { name: 'first' };
    });
    await later;
    assert.equal(await store.get('k'), { name: 'later' });
  });

  test('store calls at startup fail with the store and the phase named', async () => {
    const root = rootId(`contract-${run}-${counter++}`);
    const store = new Store(root`early`);
    await rejects(
      store.get('x'),
      new RegExp(`^Store ${root.value}\\.early: get\\(\\) is a runtime call, but the app is still starting up`),
      'INFRA_WRONG_PHASE',
    );
  });

  test.run();
}
