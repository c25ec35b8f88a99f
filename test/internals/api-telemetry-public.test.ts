/**
 * A public ApiServer takes calls from anyone, so it does not continue a caller's trace: a
 * `traceparent` sent to it would let a stranger choose the trace, its sampling and the baggage
 * the server's own calls carry on. Its server span starts a trace of its own.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'undici';
import { context, propagation, trace, SpanKind } from '@opentelemetry/api';
import { rootId, ApiServer } from 'infra-generator';
import { parentOf, recordTelemetry } from '../support/telemetry.ts';
import { serveApi } from '../support/serve-api.ts';

const test = suite('api telemetry: public servers');

/** POSTs to `url` inside a span of the test's own, its traceparent sent; resolves to that trace's ID. */
async function callInTestTrace(url: string, token: string): Promise<string> {
  return trace.getTracer('test').startActiveSpan('test', async (span) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    propagation.inject(context.active(), headers);
    assert.ok(headers.traceparent);
    const response = await request(url, { method: 'POST', headers, body: '"x"' });
    assert.is(response.statusCode, 200, await response.body.text());
    span.end();
    return span.spanContext().traceId;
  });
}

for (const open of [true, false]) {
  test(`${open ? 'a public' : 'a token-protected'} server ${open ? 'starts its own trace' : "continues the caller's trace"}`, async () => {
    const id = rootId(`api-telemetry-${open ? 'public' : 'private'}`);
    const api = new ApiServer(id`api`, { public: open });
    api.defineEndpoint('/echo', (text: string) => text);
    const token = 'tok-public-test-0123456789';
    const served = await serveApi(api, token);
    const rec = await recordTelemetry();
    try {
      const callerTrace = await callInTestTrace(`${served.url}/echo`, token);
      const [server] = rec.spans().filter((s) => s.kind === SpanKind.SERVER && s.name === 'POST /echo');
      assert.ok(
        server,
        rec
          .spans()
          .map((s) => s.name)
          .join(', '),
      );
      if (open) {
        assert.is.not(server.spanContext().traceId, callerTrace);
        assert.is(parentOf(server), undefined);
      } else {
        assert.is(server.spanContext().traceId, callerTrace);
      }
    } finally {
      await rec.stop();
      served.controller.abort();
      await served.platform.close();
    }
  });
}

test.run();
