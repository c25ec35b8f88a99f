/**
 * Spans from an OTLP/HTTP JSON export request (ExportTraceServiceRequest, as
 * @opentelemetry/exporter-trace-otlp-http sends it with OTEL_EXPORTER_OTLP_PROTOCOL=http/json):
 * https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding. The dev loop asks its app for
 * JSON, so it needs no protobuf decoder. Anything malformed is skipped, never thrown: it comes
 * from another process.
 */
import type { SpanView } from '../dev-dashboard-api.ts';

interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: string;
}
interface KeyValue {
  key?: string;
  value?: AnyValue;
}

const KINDS: readonly SpanView['kind'][] = ['internal', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUSES: readonly SpanView['status'][] = ['unset', 'ok', 'error'];

function valueOf(v: AnyValue | undefined): unknown {
  if (v === undefined || v === null) return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('arrayValue' in v) return (v.arrayValue?.values ?? []).map(valueOf);
  if ('kvlistValue' in v) return attributesOf(v.kvlistValue?.values);
  if ('bytesValue' in v) return v.bytesValue;
  return undefined;
}

function attributesOf(list: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list) if (typeof kv?.key === 'string') out[kv.key] = valueOf(kv.value);
  return out;
}

/** Nanoseconds since the epoch (a decimal string, or a number) as fractional milliseconds. */
function millis(nanos: unknown): number {
  if (typeof nanos === 'number') return nanos / 1e6;
  if (typeof nanos !== 'string' || !/^\d+$/.test(nanos)) return 0;
  return Number(BigInt(nanos) / 1000n) / 1000;
}

/** An ID as the JSON encoding writes it: lower-case hex (a base64 one, from another encoder, is converted). */
const HEX_ID: Record<number, RegExp> = { 8: /^[0-9a-f]{16}$/i, 16: /^[0-9a-f]{32}$/i };

function hexId(id: unknown, bytes: 8 | 16): string | undefined {
  if (typeof id !== 'string' || id === '') return undefined;
  if (HEX_ID[bytes]!.test(id)) return id.toLowerCase();
  const decoded = Buffer.from(id, 'base64');
  return decoded.length === bytes ? decoded.toString('hex') : undefined;
}

export function spansOfExport(body: unknown): (SpanView & { traceId: string })[] {
  const out: (SpanView & { traceId: string })[] = [];
  const resourceSpans = (body as { resourceSpans?: unknown })?.resourceSpans;
  if (!Array.isArray(resourceSpans)) return out;
  for (const rs of resourceSpans) {
    const resource = attributesOf(rs?.resource?.attributes);
    const service = typeof resource['service.name'] === 'string' ? resource['service.name'] : 'unknown';
    for (const ss of Array.isArray(rs?.scopeSpans) ? rs.scopeSpans : []) {
      for (const s of Array.isArray(ss?.spans) ? ss.spans : []) {
        const traceId = hexId(s?.traceId, 16);
        const spanId = hexId(s?.spanId, 8);
        if (traceId === undefined || spanId === undefined || typeof s.name !== 'string') continue;
        const parentSpanId = hexId(s.parentSpanId, 8);
        const statusMessage = s.status?.message;
        const attributes = attributesOf(s.attributes);
        // The persona that made it: in one process every span has the app's service.name.
        const persona = attributes['infra.persona.id'];
        out.push({
          traceId,
          spanId,
          ...(parentSpanId === undefined ? {} : { parentSpanId }),
          name: s.name,
          kind: KINDS[Number(s.kind)] ?? 'internal',
          service: typeof persona === 'string' ? persona : service,
          start: millis(s.startTimeUnixNano),
          end: millis(s.endTimeUnixNano),
          status: STATUSES[Number(s.status?.code ?? 0)] ?? 'unset',
          ...(typeof statusMessage === 'string' && statusMessage !== '' ? { statusMessage } : {}),
          attributes,
          events: (Array.isArray(s.events) ? s.events : []).map((e: Record<string, unknown>) => ({
            name: String(e?.name ?? ''),
            time: millis(e?.timeUnixNano),
            attributes: attributesOf(e?.attributes as KeyValue[] | undefined),
          })),
        });
      }
    }
  }
  return out;
}
