/**
 * The Topic contract: what every Topic backend must do, written once and run against each
 * (memory in topic-memory.test.ts, PostgreSQL through pg-boss in topic-postgres.test.ts).
 * Subscriptions run as their persona does (Subscription.start under runAs), with the
 * delivery options set short so retries and deadlines show within seconds.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { Type } from 'typebox';
import { rootId, appOf, Topic, Subscription, onDeploy, type App, type MessageContext } from 'infra-generator';
import { runAs } from 'infra-generator/internal/core/app';
import { errorCodes } from 'infra-generator/internal/core/errors';
import { rootLogger } from 'infra-generator/internal/core/telemetry/log';
import type { TopicBackend } from 'infra-generator/internal/components/topic/backend';
import type { TopicPlatform } from '../support/topic-platform.ts';
import { until } from '../support/until.ts';
import { context, propagation, SpanStatusCode, trace } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { parentOf, recordTelemetry } from '../support/telemetry.ts';

export interface TopicHarness {
  /** Shown in the suite's name. */
  name: string;
  /** The platform whose backends the suite tests; called once per test with a fresh app. */
  platform(app: App): TopicPlatform | Promise<TopicPlatform>;
  /**
   * Another process's backend of `topic`, for competing consumers: a backend of its own on the
   * same database, or, in memory (one process), the same one.
   */
  otherProcess(topic: Topic<any>, platform: TopicPlatform): TopicBackend;
  /** Runs after the whole suite (e.g. to drop the database). */
  after?(): Promise<void>;
}

interface Order {
  id: string;
  total: number;
}

export function topicContract(harness: TopicHarness): void {
  const test = suite(`Topic contract: ${harness.name}`);
  const platforms: TopicPlatform[] = [];
  const stops: AbortController[] = [];
  const running: Promise<unknown>[] = [];
  let counter = 0;
  const run = randomBytes(3).toString('hex');

  async function fixture(build: (root: ReturnType<typeof rootId>) => void = () => {}) {
    const root = rootId(`topic-${run}-${counter++}`);
    build(root);
    const app = appOf(root);
    const platform = await harness.platform(app);
    platforms.push(platform);
    app.enter('runtime', platform);
    return { app, platform };
  }

  /** Starts `subscription` as its persona runs; stopped after the test. */
  function start(app: App, subscription: Subscription<any>): AbortController {
    const stop = new AbortController();
    stops.push(stop);
    running.push(runAs(app, subscription, () => subscription.start(stop.signal)).catch(() => {}));
    return stop;
  }

  // The handlers here fail on purpose: their warnings would only fill the test output.
  let level: string;
  test.before(() => {
    level = rootLogger().level;
    rootLogger().level = 'fatal';
  });

  test.after.each(async () => {
    for (const stop of stops.splice(0)) stop.abort();
    await Promise.all(running.splice(0));
    await Promise.all(platforms.splice(0).map((p) => p.close()));
  });

  test.after(async () => {
    rootLogger().level = level;
    await harness.after?.();
  });

  test('every subscription gets every message, with one ID, once it is published', async () => {
    const seen: Record<string, { message: Order; context: MessageContext }[]> = { a: [], b: [] };
    let orders!: Topic<Order>;
    let a!: Subscription<Order>;
    let b!: Subscription<Order>;
    const { app } = await fixture((root) => {
      orders = new Topic<Order>(root`orders`);
      a = new Subscription(root`mailer`, orders, (message, context) => void seen.a.push({ message, context }));
      b = new Subscription(root`invoicer`, orders, (message, context) => void seen.b.push({ message, context }));
    });
    // Published before any subscriber runs: kept for it.
    const first = await orders.publish({ id: 'o-1', total: 10 });
    start(app, a);
    start(app, b);
    const second = await orders.publish({ id: 'o-2', total: 20 });
    await until(() => seen.a.length === 2 && seen.b.length === 2, 15, 'both deliveries to both subscriptions');
    for (const list of [seen.a, seen.b]) {
      const byId = new Map(list.map((s) => [s.context.id, s]));
      assert.equal(byId.get(first)?.message, { id: 'o-1', total: 10 });
      assert.equal(byId.get(second)?.message, { id: 'o-2', total: 20 });
      for (const s of list) {
        assert.is(s.context.attempt, 1);
        assert.instance(s.context.publishedAt, Date);
        assert.ok(Math.abs(s.context.publishedAt.getTime() - Date.now()) < 60_000);
      }
    }
    assert.is.not(first, second);
  });

  test("a message keeps its keys' order and is the handler's own copy", async () => {
    const got: unknown[] = [];
    let topic!: Topic<Record<string, unknown>>;
    let sub!: Subscription<Record<string, unknown>>;
    const { app } = await fixture((root) => {
      topic = new Topic(root`events`);
      sub = new Subscription(root`reader`, topic, (message) => void got.push(message));
    });
    const message = { zeta: 1, alpha: { b: 2, a: [1, 'two', null] }, ünï: 'çødé' };
    await topic.publish(message);
    message.zeta = 99;
    start(app, sub);
    await until(() => got.length === 1, 15, 'the delivery');
    assert.is(JSON.stringify(got[0]), '{"zeta":1,"alpha":{"b":2,"a":[1,"two",null]},"ünï":"çødé"}');
  });

  test('a handler that fails twice gets the message a third time, with the same ID', async () => {
    const attempts: MessageContext[] = [];
    let topic!: Topic<Order>;
    let sub!: Subscription<Order>;
    const { app } = await fixture((root) => {
      topic = new Topic<Order>(root`orders`);
      sub = new Subscription(
        root`flaky`,
        topic,
        (_message, context) => {
          attempts.push(context);
          if (context.attempt < 3) throw new Error(`not yet (${context.attempt})`);
        },
        { maxAttempts: 5, backoff: { initialSeconds: 0 } },
      );
    });
    start(app, sub);
    const id = await topic.publish({ id: 'o-1', total: 1 });
    await until(() => attempts.length === 3, 20, 'three attempts');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(
      attempts.map((a) => [a.id, a.attempt]),
      [
        [id, 1],
        [id, 2],
        [id, 3],
      ],
    );
    assert.equal(await sub.deadLetters(), []);
  });

  test('a poison message goes to the dead letters after maxAttempts; the others keep flowing; requeue sends it again', async () => {
    const handled: string[] = [];
    let poisonAttempts = 0;
    let cured = false;
    let topic!: Topic<Order>;
    let sub!: Subscription<Order>;
    const { app } = await fixture((root) => {
      topic = new Topic<Order>(root`orders`);
      sub = new Subscription(
        root`picky`,
        topic,
        (message) => {
          if (message.id === 'poison' && !cured) {
            poisonAttempts++;
            throw new Error('cannot handle poison');
          }
          handled.push(message.id);
        },
        { maxAttempts: 2, backoff: { initialSeconds: 0 } },
      );
    });
    start(app, sub);
    const poison = await topic.publish({ id: 'poison', total: 0 });
    for (let i = 0; i < 5; i++) await topic.publish({ id: `ok-${i}`, total: i });
    let dead: Awaited<ReturnType<typeof sub.deadLetters>> = [];
    const end = Date.now() + 20_000;
    while (dead.length === 0 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      dead = await sub.deadLetters();
    }
    await until(() => handled.length === 5, 15, 'the five good messages');
    assert.is(poisonAttempts, 2);
    assert.is(dead.length, 1);
    assert.is(dead[0].id, poison);
    assert.equal(dead[0].message, { id: 'poison', total: 0 });
    assert.is(dead[0].attempts, 2);
    assert.match(dead[0].error ?? '', 'cannot handle poison');
    assert.equal(handled.sort(), ['ok-0', 'ok-1', 'ok-2', 'ok-3', 'ok-4']);

    cured = true;
    assert.is(await sub.requeue(['no-such-message']), 0);
    assert.is(await sub.requeue([poison]), 1);
    await until(() => handled.includes('poison'), 15, 'the requeued message');
    assert.equal(await sub.deadLetters(), []);
  });

  test('requeue() with no IDs sends every dead letter again', async () => {
    const handled: string[] = [];
    let failing = true;
    let topic!: Topic<Order>;
    let sub!: Subscription<Order>;
    const { app } = await fixture((root) => {
      topic = new Topic<Order>(root`orders`);
      sub = new Subscription(
        root`down`,
        topic,
        (message) => {
          if (failing) throw new Error('downstream is down');
          handled.push(message.id);
        },
        { maxAttempts: 1 },
      );
    });
    start(app, sub);
    for (let i = 0; i < 3; i++) await topic.publish({ id: `m-${i}`, total: i });
    const end = Date.now() + 20_000;
    while ((await sub.deadLetters()).length < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    assert.is((await sub.deadLetters()).length, 3);
    failing = false;
    assert.is(await sub.requeue(), 3);
    await until(() => handled.length === 3, 15, 'the three requeued messages');
    assert.equal(handled.sort(), ['m-0', 'm-1', 'm-2']);
  });

  test('a handler past its ack deadline is told (signal) and the message comes again', async () => {
    const attempts: number[] = [];
    let aborted = false;
    let topic!: Topic<Order>;
    let sub!: Subscription<Order>;
    const { app } = await fixture((root) => {
      topic = new Topic<Order>(root`orders`);
      sub = new Subscription(
        root`slow`,
        topic,
        async (_message, { attempt, signal }) => {
          attempts.push(attempt);
          if (attempt > 1) return;
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
          aborted = true;
        },
        { ackDeadlineSeconds: 1, backoff: { initialSeconds: 0 } },
      );
    });
    start(app, sub);
    await topic.publish({ id: 'o-1', total: 1 });
    await until(() => attempts.length === 2, 20, 'the second delivery');
    assert.ok(aborted, "the first attempt's signal aborted");
    assert.equal(attempts, [1, 2]);
  });

  test('replicas of one subscription share its messages: each handled once', async () => {
    const handledBy: Record<string, string[]> = {};
    let topic!: Topic<{ n: number }>;
    let sub!: Subscription<{ n: number }>;
    const { app, platform } = await fixture((root) => {
      topic = new Topic<{ n: number }>(root`work`);
      sub = new Subscription(
        root`workers`,
        topic,
        async (message, { id }) => {
          await new Promise((r) => setTimeout(r, 2));
          (handledBy[id] ??= []).push(String(message.n));
        },
        { concurrency: 4 },
      );
    });
    start(app, sub);
    // A second process: its own backend (PostgreSQL), competing for the same queue.
    const other = harness.otherProcess(topic, platform);
    const stopOther = new AbortController();
    stops.push(stopOther);
    const otherCount = { n: 0 };
    running.push(
      other
        .consume(
          sub.queue,
          async (envelope) => {
            otherCount.n++;
            (handledBy[envelope.id] ??= []).push(JSON.parse(envelope.text).n);
          },
          stopOther.signal,
        )
        .catch(() => {}),
    );
    const total = 200;
    await Promise.all(Array.from({ length: total }, (_, n) => topic.publish({ n })));
    await until(() => Object.keys(handledBy).length === total, 30, `all ${total} messages handled`);
    await new Promise((r) => setTimeout(r, 500));
    const twice = Object.entries(handledBy).filter(([, by]) => by.length > 1);
    assert.equal(twice, [], 'no message handled twice');
    if (other !== platform.topicBackend(topic)) assert.ok(otherCount.n > 0, 'the other process took some');
    if (harness.after) await other.close();
  });

  test('a backlog drains at once, not one message per poll', async () => {
    const handled: number[] = [];
    let topic!: Topic<{ n: number }>;
    let sub!: Subscription<{ n: number }>;
    const { app } = await fixture((root) => {
      topic = new Topic<{ n: number }>(root`backlog`);
      sub = new Subscription(root`drainer`, topic, (message) => void handled.push(message.n));
    });
    const total = 100;
    for (let n = 0; n < total; n++) await topic.publish({ n });
    start(app, sub);
    // One message per 2 s poll (pg-boss's pace without a wake-up after each job) would take minutes.
    await until(() => handled.length === total, 20, `all ${total} queued messages handled`);
    assert.equal(
      handled,
      Array.from({ length: total }, (_, n) => n),
      'one at a time (concurrency 1), oldest first',
    );
  });

  test('a schema refuses a bad message at publish, with the words of an endpoint input check', async () => {
    let topic!: Topic<Order>;
    await fixture((root) => {
      topic = new Topic<Order>(root`typed`, { schema: Type.Object({ id: Type.String(), total: Type.Number() }) });
    });
    const bad = await topic.publish({ id: 7, total: 1 } as never).catch((err) => err);
    assert.is(bad.code, errorCodes.INFRA_INVALID_MESSAGE);
    assert.match(bad.message, /Topic topic-\S+\.typed: cannot publish this message: \/id must be string/);
    const missing = await topic.publish({ id: 'x' } as never).catch((err) => err);
    assert.match(missing.message, '/total is required');
    assert.type(await topic.publish({ id: 'x', total: 2 }), 'string');
    const huge = await topic.publish({ id: 'x'.repeat(1024 * 1024), total: 1 }).catch((err) => err);
    assert.is(huge.code, errorCodes.INFRA_INVALID_MESSAGE);
    assert.match(huge.message, 'more than the 1048576 a message may have');
    const notJson = await topic.publish({ id: 'x', total: 10n } as never).catch((err) => err);
    assert.match(notJson.message, /BigInt/);
  });

  test('a persona whose uses leaves the topic out may not publish; one that lists it may', async () => {
    let topic!: Topic<Order>;
    let outsider!: ReturnType<typeof onDeploy>;
    let insider!: ReturnType<typeof onDeploy>;
    const { app } = await fixture((root) => {
      topic = new Topic<Order>(root`orders`);
      outsider = onDeploy(root`outsider`, async () => {}, { uses: [] });
      insider = onDeploy(root`insider`, async () => {}, { uses: [topic] });
    });
    const refused = await runAs(app, outsider, () => topic.publish({ id: 'o', total: 1 })).catch((err) => err);
    assert.is(refused.code, errorCodes.INFRA_PUBLISH_NOT_ALLOWED);
    assert.match(refused.message, /may not use Topic \S+\.orders \(publish\(\)\): its uses option lists nothing/);
    assert.type(await runAs(app, insider, () => topic.publish({ id: 'o', total: 1 })), 'string');
  });

  test('traced: each attempt is a span beneath the publish span; one past its deadline ends failed then; only the trace travels, not the baggage', async () => {
    const telemetry = await recordTelemetry();
    // The SDK's default propagators, baggage included: a message must not keep the baggage.
    propagation.disable();
    propagation.setGlobalPropagator(
      new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    );
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    try {
      const attempts: { attempt: number; baggage: string | undefined }[] = [];
      let subscription!: Subscription<Order>;
      const { app } = await fixture((root) => {
        const topic = new Topic<Order>(root`orders`);
        subscription = new Subscription(
          root`slow`,
          topic,
          async (_order, { attempt }) => {
            attempts.push({ attempt, baggage: propagation.getBaggage(context.active())?.getEntry('user')?.value });
            // The first attempt hangs past its deadline (the test lets it go at the end).
            if (attempt === 1) await released;
          },
          // Two at once: the hung attempt keeps its place, the retry takes the other.
          { ackDeadlineSeconds: 1, backoff: { initialSeconds: 0 }, concurrency: 2 },
        );
      });
      start(app, subscription);
      const withBaggage = propagation.setBaggage(
        context.active(),
        propagation.createBaggage({ user: { value: 'alice@example.com' } }),
      );
      const messageId = await context.with(withBaggage, () =>
        trace.getTracer('test').startActiveSpan('request', async (span) => {
          try {
            return await subscription.topic.publish({ id: 'o-1', total: 1 });
          } finally {
            span.end();
          }
        }),
      );
      const processed = () => telemetry.spans().filter((s) => s.name === `process ${subscription.topic.id.value}`);
      await until(
        () => processed().length >= 2,
        30,
        () =>
          telemetry
            .spans()
            .map((s) => s.name)
            .join(', '),
      );
      const request = telemetry.spans().find((s) => s.name === 'request')!;
      const publish = telemetry.spans().find((s) => s.name === `publish ${subscription.topic.id.value}`)!;
      assert.ok(publish, 'the publish span');
      assert.is(parentOf(publish), request.spanContext().spanId);
      assert.is(publish.attributes['messaging.message.id'], messageId);
      const [first, second] = processed().sort(
        (a, b) => Number(a.attributes['infra.message.attempt']) - Number(b.attributes['infra.message.attempt']),
      );
      for (const span of [first, second]) {
        assert.is(span.spanContext().traceId, request.spanContext().traceId);
        assert.is(parentOf(span), publish.spanContext().spanId);
      }
      // Ended at its deadline, while its handler still hangs: failed, as the backend counted it.
      assert.is(first.attributes['infra.message.attempt'], 1);
      assert.is(first.status.code, SpanStatusCode.ERROR);
      assert.is(first.attributes['error.type'], errorCodes.INFRA_ACK_DEADLINE);
      assert.is(second.status.code, SpanStatusCode.UNSET);
      assert.equal(attempts.slice(0, 2), [
        { attempt: 1, baggage: undefined },
        { attempt: 2, baggage: undefined },
      ]);
    } finally {
      release();
      await telemetry.stop();
    }
  });

  return test.run();
}
