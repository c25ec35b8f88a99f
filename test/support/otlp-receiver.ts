/**
 * A small OTLP/HTTP receiver of the tests' own: it keeps what personas export, flattened to one
 * record per span, from traces in JSON (OTEL_EXPORTER_OTLP_PROTOCOL=http/json) or protobuf (the
 * default), and the names of metrics in JSON. It can also
 * stop answering (`hang`), to stand for a collector that accepts connections and never replies.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeTraceRequest } from './otlp-protobuf.ts';

export interface ReceivedSpan {
  service: string;
  resource: Record<string, unknown>;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  status: number;
}

export interface OtlpReceiver {
  /** The endpoint for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  readonly spans: ReceivedSpan[];
  /** Every request body received, as text, whatever its path (traces, metrics, logs). */
  readonly bodies: string[];
  /** The metric names received. */
  readonly metricNames: Set<string>;
  /** How many trace requests came in protobuf (the rest in JSON). */
  readonly protobufRequests: number;
  /** From now on, requests are read and never answered. */
  hang(): void;
  close(): Promise<void>;
}

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type KeyValue = { key: string; value: AnyValue };

const attributesOf = (list: KeyValue[] | undefined): Record<string, unknown> =>
  Object.fromEntries(
    (list ?? []).map(({ key, value }) => [
      key,
      value.stringValue ??
        (value.intValue !== undefined ? Number(value.intValue) : (value.boolValue ?? value.doubleValue)),
    ]),
  );

export async function startOtlpReceiver(host = '127.0.0.1'): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const bodies: string[] = [];
  const metricNames = new Set<string>();
  let hanging = false;
  let protobufRequests = 0;
  const held: ServerResponse[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const protobuf = request.headers['content-type'] === 'application/x-protobuf';
      const text = raw.toString(protobuf ? 'latin1' : 'utf8');
      bodies.push(text);
      if (hanging) return void held.push(response);
      try {
        if (protobuf && !request.url?.endsWith('/v1/traces')) throw new Error('only traces are read in protobuf');
        const body = (protobuf ? decodeTraceRequest(raw) : JSON.parse(text)) as Record<string, any[]>;
        if (protobuf) protobufRequests++;
        for (const rs of body.resourceSpans ?? []) {
          const resource = attributesOf(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? [])
            for (const s of ss.spans ?? [])
              spans.push({
                service: String(resource['service.name']),
                resource,
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId ?? '',
                name: s.name,
                kind: s.kind,
                attributes: attributesOf(s.attributes),
                status: s.status?.code ?? 0,
              });
        }
        for (const rm of body.resourceMetrics ?? [])
          for (const sm of rm.scopeMetrics ?? []) for (const m of sm.metrics ?? []) metricNames.add(m.name);
        if (protobuf) response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        else response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch {
        response.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    spans,
    bodies,
    metricNames,
    get protobufRequests() {
      return protobufRequests;
    },
    hang: () => void (hanging = true),
    close: async () => {
      for (const response of held) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
