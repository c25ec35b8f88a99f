/**
 * The error catalogue (as Fastify's test/internals/errors.test.js checks its own): every code is
 * documented in docs/errors.md and every documented code exists; each code belongs to one
 * factory; the runtime throws nothing that does not come from the catalogue; and an error about
 * a component carries its ID.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { rootId, Store, ApiServer, onDeploy, startInProcess, errorCodes, InfraError, messageOf } from 'infra-generator';
import { errors } from 'infra-generator/internal/core/errors';

const repoRoot = join(import.meta.dirname, '..', '..');
const sourceRoot = join(repoRoot, 'runtime', 'src');
const catalogueFile = 'core/errors.ts';

/** The codes of the rows of docs/errors.md's tables (the first cell of each row), in order. */
function documentedCodes(): string[] {
  const text = readFileSync(join(repoRoot, 'docs', 'errors.md'), 'utf8');
  return [...text.matchAll(/^\|\s*`([A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]);
}

/** Every .ts file under runtime/src, by its path relative to it, with its text. */
function sources(): { path: string; text: string }[] {
  return readdirSync(sourceRoot, { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.ts'))
    .map((path) => ({
      path: relative(sourceRoot, join(sourceRoot, path)),
      text: readFileSync(join(sourceRoot, path), 'utf8'),
    }));
}

/** Where `pattern` matches in the sources outside `allowed`, as `path:line: text`. */
function occurrences(
  pattern: RegExp,
  allowed: (path: string, match: RegExpExecArray) => boolean = () => false,
): string[] {
  const found: string[] = [];
  for (const { path, text } of sources()) {
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      for (const match of line.matchAll(
        new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`),
      )) {
        if (!allowed(path, match as RegExpExecArray)) found.push(`${path}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  return found;
}

const factories = Object.entries(errors);
const codes = Object.keys(errorCodes);

test('every code is documented in docs/errors.md', () => {
  const documented = new Set(documentedCodes());
  const undocumented = codes.filter((code) => !documented.has(code));
  assert.equal(undocumented, [], `add a row to docs/errors.md for: ${undocumented.join(', ')}`);
});

test('docs/errors.md documents no code that does not exist, and each code once', () => {
  const documented = documentedCodes();
  assert.ok(documented.length > 0, 'docs/errors.md has rows of the form | `INFRA_…` | … |');
  const unknown = documented.filter((code) => !(code in errorCodes));
  assert.equal(unknown, [], `docs/errors.md lists codes that no longer exist: ${unknown.join(', ')}`);
  const twice = documented.filter((code, i) => documented.indexOf(code) !== i);
  assert.equal(twice, [], `docs/errors.md lists these codes more than once: ${twice.join(', ')}`);
});

test('errorCodes maps each code to itself, and cannot be changed', () => {
  for (const [name, code] of Object.entries(errorCodes)) assert.is(code, name);
  assert.ok(Object.isFrozen(errorCodes));
  assert.ok(
    codes.every((code) => /^INFRA_[A-Z0-9_]+$/.test(code)),
    'codes look like INFRA_SOMETHING',
  );
});

test('each code belongs to exactly one factory', () => {
  const byCode = new Map<string, string[]>();
  for (const [name, factory] of factories) byCode.set(factory.code, [...(byCode.get(factory.code) ?? []), name]);
  const shared = [...byCode]
    .filter(([, names]) => names.length > 1)
    .map(([code, names]) => `${code}: ${names.join(', ')}`);
  assert.equal(shared, [], 'two factories share a code; give each error its own');
  const unused = codes.filter((code) => !byCode.has(code));
  assert.equal(unused, [], `codes no factory makes: remove them from errorCodes (and docs/errors.md)`);
});

test('each factory makes an InfraError with its own code and a message', () => {
  // One dummy for every parameter: it reads as a string (`${x}`, x.split()) and as a list (x.join(), x.length).
  const dummy = Object.assign(['my-app.thing'], { split: (separator: string) => 'my-app.thing'.split(separator) });
  for (const [name, factory] of factories) {
    const err = (factory as (...args: unknown[]) => InfraError)(...Array.from({ length: 8 }, () => dummy));
    assert.instance(err, InfraError, name);
    assert.instance(err, Error, name);
    assert.is(err.name, 'InfraError', name);
    assert.is(err.code, factory.code, name);
    assert.ok(err.message.length > 20, `${name}: ${err.message}`);
  }
});

test('the runtime throws only errors of the catalogue', () => {
  // Built-in errors are made only by the catalogue (InfraError's own super call needs none).
  const builtIns = occurrences(
    /\bnew (?:Error|TypeError|RangeError|SyntaxError|ReferenceError|URIError|EvalError|AggregateError)\(/,
    (path) => path === catalogueFile,
  );
  assert.equal(builtIns, [], 'throw an error of core/errors.ts (add a factory, a code and a row in docs/errors.md)');
  // Other error classes: the catalogue's, the one handlers throw, and two that the HTTP server
  // answers as 400 (they never leave it).
  const allowedClasses = new Set([
    'core/errors.ts InfraError',
    'components/api/http-error.ts HttpError',
    'components/api/http-wire.ts JsonInputError',
    'components/api/http-server.ts RequestError',
  ]);
  const classes = occurrences(/class (\w+) extends \w*Error\b/, (path, match) =>
    allowedClasses.has(`${path} ${match[1]}`),
  );
  assert.equal(classes, [], 'an error class outside the catalogue');
  const thrownStrings = occurrences(/\bthrow\s+[`'"]/);
  assert.equal(thrownStrings, [], 'a thrown string');
});

test('error codes are written only in the catalogue; elsewhere errorCodes names them', () => {
  const literals = occurrences(
    /['"`](INFRA_[A-Z0-9_]+)['"`]/,
    (path, match) => path === catalogueFile || !(match[1] in errorCodes),
  );
  assert.equal(literals, [], 'use errorCodes.INFRA_… instead of the string');
});

test('messageOf is the one way to read the message of anything thrown', () => {
  assert.is(messageOf(new Error('boom')), 'boom');
  assert.is(messageOf(errors.noApp()), errors.noApp().message);
  assert.is(messageOf('plain text'), 'plain text');
  assert.is(messageOf(42), '42');
  assert.is(messageOf(undefined), 'undefined');
  const copies = occurrences(/instanceof Error \? |as Error\)\??\.message/, (path) => path === catalogueFile);
  assert.equal(copies, [], 'use messageOf(err) from core/errors.ts');
});

async function rejection(promise: Promise<unknown>): Promise<InfraError> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, InfraError);
    return err as InfraError;
  }
  throw assert.unreachable('it should have rejected');
}

function thrown(fn: () => unknown): InfraError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, InfraError);
    return err as InfraError;
  }
  throw assert.unreachable('it should have thrown');
}

test('an error about a component carries its ID', async () => {
  const id = rootId('errors-id');
  const db = new Store(id`owner`.child('db'));
  const api = new ApiServer(id`api`);
  const ping = api.defineEndpoint('/ping', () => 'pong', { method: 'GET' });
  const duplicate = thrown(() => new Store(id`owner`.child('db')));
  assert.is(duplicate.code, errorCodes.INFRA_DUPLICATE_ID);
  assert.is(duplicate.id, 'errors-id.owner.db');
  const route = thrown(() => api.defineEndpoint('no-slash', () => 1));
  assert.is(route.code, errorCodes.INFRA_INVALID_ROUTE);
  assert.is(route.id, 'errors-id.api');
  const notFunction = thrown(() => onDeploy(id`broken`, 'not a function' as never));
  assert.is(notFunction.code, errorCodes.INFRA_NOT_A_FUNCTION);
  assert.is(notFunction.id, 'errors-id.broken');
  const early = await rejection(db.get('k'));
  assert.is(early.code, errorCodes.INFRA_WRONG_PHASE);
  assert.is(early.id, 'errors-id.owner.db');

  const client = onDeploy(id`client`, async () => {}, { uses: [] });
  const run = startInProcess(id);
  try {
    const key = await rejection(db.get(''));
    assert.is(key.code, errorCodes.INFRA_INVALID_KEY);
    assert.is(key.id, 'errors-id.owner.db');
    const store = await rejection(run.runAs(client, () => db.get('k')));
    assert.is(store.code, errorCodes.INFRA_STORE_NOT_ALLOWED);
    assert.is(store.id, 'errors-id.client', 'the persona that broke the rule');
    const call = await rejection(run.runAs(client, () => ping()));
    assert.is(call.code, errorCodes.INFRA_API_NOT_ALLOWED);
    assert.is(call.id, 'errors-id.client');
  } finally {
    await run.stop();
  }
});

test('an error about no component has no ID; a cause is kept', () => {
  assert.is(errors.noBuild('/tmp/values.json').id, undefined);
  assert.not.ok('cause' in errors.noBuild('/tmp/values.json'));
  const cause = new Error('connection refused');
  const err = errors.storeUnavailable('my-app.db', cause);
  assert.is(err.cause, cause);
  assert.is(err.id, 'my-app.db');
  assert.match(err.message, '(connection refused)');
});

test("a Worker's bad port is reported as the Worker's, an ApiServer's as the server's", () => {
  assert.is(
    errors.invalidPort('Worker', 'my-app.ticker', 'INFRA_HEALTH_PORT', 'eighty').message,
    'Worker my-app.ticker: INFRA_HEALTH_PORT="eighty" is not a TCP port; set it to an integer from 1 to 65535',
  );
  assert.match(
    errors.invalidPort('ApiServer', 'my-app.api', 'MY_APP__API__PORT', 'x').message,
    /^ApiServer my-app\.api: /,
  );
});

test.run();
