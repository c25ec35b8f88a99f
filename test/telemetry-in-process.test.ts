/**
 * One process: the seed's example traced as it would be deployed. The deploy task's span is the
 * root of one trace holding the POST and GET client spans, their server spans beneath them,
 * and the store spans beneath those, across the task's and the API's personas.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SpanKind } from '@opentelemetry/api';
import { runPersona } from 'infra-generator';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { seedApp } from './support/seed-app.ts';
import { parentOf, recordTelemetry } from './support/telemetry.ts';

const test = suite('telemetry in one process');

test("the seed's deploy task is one trace: client spans, server spans, store spans, each beneath the last", async () => {
  const rec = await recordTelemetry();
  try {
    const id = seedApp();
    const lines: string[] = [];
    const code = await runPersona({
      root: id,
      persona: '',
      env: {},
      log: { info: (m) => lines.push(m), error: (m) => lines.push(m) },
      setExitCode: false,
    });
    assert.is(code, 0, lines.join('\n'));
    const spans = rec.spans();
    const named = (name: string, kind: SpanKind) => spans.filter((s) => s.name === name && s.kind === kind);
    const [task] = named('deploy my-app.example-client', SpanKind.INTERNAL);
    assert.ok(task, `the task's span, among: ${spans.map((s) => s.name).join(', ')}`);
    assert.is(parentOf(task), undefined, 'the task span is a root');
    const traceId = task.spanContext().traceId;
    assert.ok(
      spans.every((s) => s.spanContext().traceId === traceId),
      'one trace',
    );

    const childOf = (parent: ReadableSpan, child: ReadableSpan | undefined, what: string) => {
      assert.ok(child, what);
      assert.is(parentOf(child!), parent.spanContext().spanId, `${what} is beneath ${parent.name}`);
    };
    for (const [method, operation] of [
      ['POST', 'set'],
      ['GET', 'get'],
    ]) {
      const [client] = named(`${method} /api/customer`, SpanKind.CLIENT);
      childOf(task, client, `the ${method} client span`);
      assert.is(client.attributes['infra.persona.id'], 'my-app.example-client');
      const [server] = named(`${method} /api/customer`, SpanKind.SERVER);
      childOf(client, server, `the ${method} server span`);
      assert.is(server.attributes['infra.persona.id'], 'my-app.customer-server.api');
      assert.is(server.attributes['http.route'], '/api/customer');
      assert.is(server.attributes['http.request.method'], method);
      assert.is(server.attributes['http.response.status_code'], method === 'POST' ? 204 : 200);
      const store = spans.find((s) => s.name === `${operation} my-app.customer-server.db`);
      childOf(server, store, `the store's ${operation} span`);
      assert.is(store!.attributes['db.operation.name'], operation);
      assert.is(store!.attributes['infra.component.id'], 'my-app.customer-server.db');
    }
    // Neither the argument nor the value is in any span.
    const attributes = JSON.stringify(spans.map((s) => [s.attributes, s.events]));
    assert.not.ok(attributes.includes('John Doe'), attributes);
  } finally {
    await rec.stop();
  }
});

test.run();
