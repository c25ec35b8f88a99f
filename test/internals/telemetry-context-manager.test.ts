/**
 * The runtime's context manager keeps the active OpenTelemetry context with the running persona
 * (core/app.ts): what the API's own manager does, context for context, inside personas and
 * outside them, across awaits, through runAs with a span's context given (one switch of the
 * async context in place of two), bind and attach; and when another manager is registered,
 * runAs still makes the given context active, through that manager.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventEmitter } from 'node:events';
import { context, createContextKey, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { appOf, rootId, Worker } from 'infra-generator';
import { currentContext, runAs } from 'infra-generator/internal/core/app';
import { withLogScope } from 'infra-generator/internal/core/telemetry/scope';
import { ROOT } from 'infra-generator/internal/core/telemetry/context';
import { RuntimeContextManager } from 'infra-generator/internal/modes/telemetry-context-manager';

const key = createContextKey('which');
const named = (name: string, from: Context = ROOT) => from.setValue(key, name);
const which = () => context.active().getValue(key);

const id = rootId('context-manager');
const worker = new Worker(id`worker`, async () => {});
const other = new Worker(id`other`, async () => {});
const app = appOf(id);

/** Registers `manager` as the API's for `fn`, and takes it away after. */
async function withManager(manager: { enable(): unknown }, fn: () => Promise<void>): Promise<void> {
  assert.ok(context.setGlobalContextManager(manager as never), 'no other manager registered');
  manager.enable();
  try {
    // After an await, in an async execution of its own: an attach before fn's first await
    // would otherwise enter the test runner's, and every later test's. (AsyncLocalStorage's
    // run() would not do: it restores its own store only, not one another entered meanwhile.)
    await Promise.resolve();
    await fn();
  } finally {
    context.disable();
  }
}

/** What the tests below check, with any manager: the same answers from the API's and ours. */
async function contextsFollow(): Promise<void> {
  assert.is(which(), undefined);
  await context.with(named('outside'), async () => {
    assert.is(which(), 'outside');
    await runAs(app, worker, async () => {
      assert.is(which(), 'outside', 'a persona entered keeps the active context');
      await context.with(named('inside'), async () => {
        await sleep(1);
        assert.is(which(), 'inside', 'across an await');
        await runAs(app, other, async () => assert.is(which(), 'inside'));
      });
      assert.is(which(), 'outside');
      await runAs(
        app,
        other,
        async () => {
          await sleep(1);
          assert.is(which(), 'given', "runAs's context, across an await");
        },
        undefined,
        named('given'),
      );
      assert.is(which(), 'outside', 'restored after runAs');
    });
    assert.is(which(), 'outside');
    // A context given to runAs from no persona at all.
    await runAs(app, worker, async () => assert.is(which(), 'given'), undefined, named('given'));
  });
  assert.is(which(), undefined);

  // bind: a function, and an emitter's listeners, run in the context bound.
  const bound = context.bind(named('bound'), () => which());
  await runAs(app, worker, async () => {
    assert.is(bound(), 'bound');
    const emitter = context.bind(named('emitter'), new EventEmitter());
    let heard: unknown;
    emitter.on('event', () => (heard = which()));
    emitter.emit('event');
    assert.is(heard, 'emitter');
  });
}

test('the runtime manager: contexts follow personas, awaits and runAs as the API manager has them', async () => {
  await withManager(new AsyncLocalStorageContextManager(), contextsFollow);
  await withManager(new RuntimeContextManager(), contextsFollow);
});

test('the runtime manager keeps the context with the persona: runAs sets both in one step; a log scope keeps it', async () => {
  const given = named('given');
  const manager = new RuntimeContextManager();
  let switches = 0;
  const switching = manager.with.bind(manager);
  manager.with = (...args) => (switches++, switching(...args));
  await withManager(manager, async () => {
    await runAs(app, worker, async () => assert.is(currentContext()?.trace, given), undefined, given);
    assert.is(switches, 0, 'runAs made the context active itself, not through the manager');
    await context.with(named('outer'), () =>
      runAs(app, worker, () =>
        withLogScope({ component: 'c' }, async () => {
          assert.is(which(), 'outer');
          assert.is(currentContext()?.logScope?.component, 'c');
        }),
      ),
    );
    // with() passes its thisArg and arguments on.
    const self = { n: 2 };
    assert.is(
      context.with(
        given,
        function (this: typeof self, a: number) {
          return this.n * a + (which() === 'given' ? 1 : 0);
        },
        self,
        5,
      ),
      11,
    );
  });
});

test("the runtime manager gives the runtime's own empty context outside any, and for the API's", async () => {
  await withManager(new RuntimeContextManager(), async () => {
    assert.is(context.active(), ROOT);
    await runAs(app, worker, async () => assert.is(context.active(), ROOT));
    await context.with(ROOT_CONTEXT, async () => assert.is(context.active(), ROOT));
  });
  // Another manager's own empty context: not the runtime's.
  await withManager(new AsyncLocalStorageContextManager(), async () => assert.is(context.active(), ROOT_CONTEXT));
});

test('attach: active for the rest of the execution, until disposed, in a persona and outside', async () => {
  await withManager(new RuntimeContextManager(), async () => {
    const outside = context.attach(named('attached outside'));
    assert.is(which(), 'attached outside');
    await runAs(app, worker, async () => {
      assert.is(which(), 'attached outside');
      const inside = context.attach(named('attached inside'));
      await sleep(1);
      assert.is(which(), 'attached inside');
      inside.dispose();
      assert.is(which(), 'attached outside');
    });
    outside.dispose();
    assert.is(which(), undefined);
  });
});

test('a dispose elsewhere restores the trace context only, there, and only once', async () => {
  await withManager(new RuntimeContextManager(), async () => {
    let token: { dispose(): void } | undefined;
    await runAs(app, worker, async () => {
      await context.with(named('before'), async () => {
        token = context.attach(named('attached'));
      });
    });
    // Disposed in another persona's execution: its persona and log scope stay its own.
    await runAs(
      app,
      other,
      async () => {
        await context.with(named('theirs'), async () => {
          token!.dispose();
          assert.is(which(), 'before');
          assert.is(currentContext()?.persona, other);
          assert.is(currentContext()?.logScope?.component, 'theirs');
          context.attach(named('later'));
          token!.dispose();
          assert.is(which(), 'later', 'a second dispose does nothing');
        });
      },
      { component: 'theirs' },
    );
    // Disposed outside any persona: no persona is entered.
    const outside = await runAs(app, worker, async () => context.attach(named('in worker')));
    outside.dispose();
    assert.is(currentContext(), undefined);
    assert.is(which(), undefined);
  });
});

test('once disabled, the runtime manager no longer keeps contexts: runAs goes through the manager registered', async () => {
  await withManager(new RuntimeContextManager(), async () => {});
  // Had the runtime manager still kept contexts, runAs would set one that this manager never reads.
  await withManager(new AsyncLocalStorageContextManager(), async () => {
    await runAs(app, worker, async () => assert.is(which(), 'given'), undefined, named('given'));
  });
});

test.run();
