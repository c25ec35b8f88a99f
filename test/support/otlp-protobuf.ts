/**
 * OTLP trace requests in protobuf, read back into OTLP's JSON shape (hex IDs, `stringValue`,
 * `intValue`…), so that tests check what a collector would see. A reader of the protobuf wire
 * format of the tests' own: it knows the field numbers of opentelemetry/proto/trace/v1 and
 * nothing else, and fails on what it does not expect.
 */

type Field = { wire: number; value: bigint | Uint8Array };

/** The fields of one message, by number, in order. */
export function fields(bytes: Uint8Array): Map<number, Field[]> {
  const out = new Map<number, Field[]>();
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (at >= bytes.length) throw new Error('a varint runs past the end');
      const byte = bytes[at++];
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
    }
  };
  while (at < bytes.length) {
    const key = Number(varint());
    const [field, wire] = [key >>> 3, key & 7];
    let value: bigint | Uint8Array;
    if (wire === 0) value = varint();
    else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      value = bytes.subarray(at, at + size);
      at += size;
    } else if (wire === 2) {
      const length = Number(varint());
      value = bytes.subarray(at, at + length);
      at += length;
    } else throw new Error(`wire type ${wire} of field ${field} is not one OTLP uses`);
    if (at > bytes.length) throw new Error(`field ${field} runs past the end`);
    const list = out.get(field) ?? [];
    list.push({ wire, value });
    out.set(field, list);
  }
  return out;
}

const all = (message: Map<number, Field[]>, field: number) => (message.get(field) ?? []).map((f) => f.value);
const one = (message: Map<number, Field[]>, field: number) => message.get(field)?.at(-1)?.value;
const text = (value: unknown) => (value === undefined ? undefined : Buffer.from(value as Uint8Array).toString('utf8'));
const hex = (value: unknown) => (value === undefined ? undefined : Buffer.from(value as Uint8Array).toString('hex'));
const fixed64 = (value: unknown) =>
  Buffer.from(value as Uint8Array)
    .readBigUInt64LE()
    .toString();
const fixed32 = (value: unknown) => Buffer.from(value as Uint8Array).readUInt32LE();
const int64 = (value: unknown) => BigInt.asIntN(64, value as bigint).toString();

function anyValue(bytes: Uint8Array): Record<string, unknown> {
  const m = fields(bytes);
  if (m.has(1)) return { stringValue: text(one(m, 1)) };
  if (m.has(2)) return { boolValue: one(m, 2) === 1n };
  if (m.has(3)) return { intValue: int64(one(m, 3)) };
  if (m.has(4)) return { doubleValue: Buffer.from(one(m, 4) as Uint8Array).readDoubleLE() };
  if (m.has(5))
    return { arrayValue: { values: all(fields(one(m, 5) as Uint8Array), 1).map((v) => anyValue(v as Uint8Array)) } };
  if (m.has(6)) return { kvlistValue: { values: keyValues(fields(one(m, 6) as Uint8Array), 1) } };
  if (m.has(7)) return { bytesValue: Buffer.from(one(m, 7) as Uint8Array).toString('base64') };
  return {};
}

function keyValues(message: Map<number, Field[]>, field: number) {
  return all(message, field).map((v) => {
    const kv = fields(v as Uint8Array);
    return { key: text(one(kv, 1)), value: anyValue((one(kv, 2) as Uint8Array) ?? new Uint8Array()) };
  });
}

function span(bytes: Uint8Array) {
  const s = fields(bytes);
  const status = fields((one(s, 15) as Uint8Array) ?? new Uint8Array());
  return {
    traceId: hex(one(s, 1)),
    spanId: hex(one(s, 2)),
    traceState: text(one(s, 3)),
    parentSpanId: hex(one(s, 4)),
    name: text(one(s, 5)),
    kind: Number(one(s, 6) ?? 0n),
    startTimeUnixNano: fixed64(one(s, 7)),
    endTimeUnixNano: fixed64(one(s, 8)),
    attributes: keyValues(s, 9),
    droppedAttributesCount: Number(one(s, 10) ?? 0n),
    events: all(s, 11).map((v) => {
      const e = fields(v as Uint8Array);
      return {
        timeUnixNano: fixed64(one(e, 1)),
        name: text(one(e, 2)),
        attributes: keyValues(e, 3),
        droppedAttributesCount: Number(one(e, 4) ?? 0n),
      };
    }),
    droppedEventsCount: Number(one(s, 12) ?? 0n),
    links: all(s, 13).map((v) => {
      const l = fields(v as Uint8Array);
      return {
        traceId: hex(one(l, 1)),
        spanId: hex(one(l, 2)),
        traceState: text(one(l, 3)),
        attributes: keyValues(l, 4),
        droppedAttributesCount: Number(one(l, 5) ?? 0n),
        flags: one(l, 6) === undefined ? undefined : fixed32(one(l, 6)),
      };
    }),
    droppedLinksCount: Number(one(s, 14) ?? 0n),
    status: { message: text(one(status, 2)), code: Number(one(status, 3) ?? 0n) },
    flags: one(s, 16) === undefined ? undefined : fixed32(one(s, 16)),
  };
}

/** An ExportTraceServiceRequest, as OTLP's JSON encoding would give it. */
export function decodeTraceRequest(bytes: Uint8Array) {
  return {
    resourceSpans: all(fields(bytes), 1).map((rsBytes) => {
      const rs = fields(rsBytes as Uint8Array);
      const resource = fields((one(rs, 1) as Uint8Array) ?? new Uint8Array());
      return {
        resource: { attributes: keyValues(resource, 1) },
        scopeSpans: all(rs, 2).map((ssBytes) => {
          const ss = fields(ssBytes as Uint8Array);
          const scope = fields((one(ss, 1) as Uint8Array) ?? new Uint8Array());
          return {
            scope: { name: text(one(scope, 1)), version: text(one(scope, 2)) },
            spans: all(ss, 2).map((v) => span(v as Uint8Array)),
            schemaUrl: text(one(ss, 3)),
          };
        }),
        schemaUrl: text(one(rs, 3)),
      };
    }),
  };
}
