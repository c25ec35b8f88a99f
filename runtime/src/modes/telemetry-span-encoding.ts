/**
 * Spans in OTLP's protobuf encoding (opentelemetry/proto/trace/v1/trace.proto), written once,
 * when a span ends, straight from the span's own fields into a batch's bytes. The SDK's
 * serializer (@opentelemetry/otlp-transformer) writes the same bytes, field for field (a test
 * compares them), but from the SDK's spans, at export time, in two passes: about 8 µs a span
 * in an API under load, against 1 here.
 */
import type { Attributes, AttributeValue, Link } from '@opentelemetry/api';

/** A point in time: milliseconds since the epoch, to the microsecond (as performance.now() gives). */
export type EpochMs = number;

export interface EncodedEvent {
  readonly name: string;
  readonly time: EpochMs;
  readonly attributes: Attributes;
  readonly droppedAttributesCount: number;
}

export interface EncodedLink {
  readonly link: Link;
  readonly droppedAttributesCount: number;
}

/**
 * A frozen attribute set with its Span.attributes fields (KeyValue messages, field 9) written
 * once: the runtime starts its spans with the same few sets (an endpoint's, a store
 * operation's) and adds a few more (a client's URL, a status code), so a span copies these
 * bytes rather than writing each key and value again.
 */
export interface EncodedAttributes {
  readonly attributes: Attributes;
  readonly count: number;
  readonly bytes: Buffer;
}

export function encodeAttributes(attributes: Attributes): EncodedAttributes {
  const writer = new ProtoWriter(256);
  writeAttributes(writer, attributes, 9);
  return { attributes, count: Object.keys(attributes).length, bytes: Buffer.from(writer.bytes()) };
}

/** What a span's protobuf message is written from. */
export interface SpanFields {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceState: string | undefined;
  readonly parentSpanId: string | undefined;
  readonly parentIsRemote: boolean | undefined;
  readonly traceFlags: number;
  readonly name: string;
  /** The API's SpanKind (OTLP's is one more). */
  readonly kind: number;
  readonly startMs: EpochMs;
  readonly endMs: EpochMs;
  /** Written first, in order; `attributes` then holds none of their keys. */
  readonly encodedAttributes: readonly EncodedAttributes[];
  readonly attributes: Attributes;
  readonly droppedAttributesCount: number;
  readonly events: readonly EncodedEvent[];
  readonly droppedEventsCount: number;
  readonly links: readonly EncodedLink[];
  readonly droppedLinksCount: number;
  /** The API's SpanStatusCode (0 unset, 1 ok, 2 error) and its message. */
  readonly statusCode: number;
  readonly statusMessage: string | undefined;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

/** Span.flags: the W3C trace flags, and whether the parent's context came from another process. */
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

/** A growing buffer that protobuf fields are written to. */
export class ProtoWriter {
  buffer: Buffer;
  pos = 0;

  constructor(size = 16 * 1024) {
    this.buffer = Buffer.allocUnsafe(size);
  }

  /** The bytes written, as a view of this writer's buffer. */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.pos);
  }

  /** Room for `size` more bytes. */
  room(size: number): void {
    if (this.pos + size <= this.buffer.length) return;
    let length = this.buffer.length * 2;
    while (length < this.pos + size) length *= 2;
    const grown = Buffer.allocUnsafe(length);
    this.buffer.copy(grown, 0, 0, this.pos);
    this.buffer = grown;
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  /** A non-negative integer below 2^53. */
  varint(value: number): void {
    this.room(10);
    const buffer = this.buffer;
    while (value > 0x7f) {
      buffer[this.pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    buffer[this.pos++] = value;
  }

  /** A negative int64, as protobuf writes it: ten bytes of two's complement. */
  negativeVarint(value: number): void {
    this.room(10);
    const big = BigInt.asUintN(64, BigInt(value));
    let low = Number(big & 0xffffffffn);
    let high = Number(big >> 32n);
    for (let i = 0; i < 9; i++) {
      this.buffer[this.pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    this.buffer[this.pos++] = low & 0x01;
  }

  fixed32(value: number): void {
    this.room(4);
    this.buffer.writeUInt32LE(value >>> 0, this.pos);
    this.pos += 4;
  }

  double(value: number): void {
    this.room(8);
    this.buffer.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /** A time as fixed64 nanoseconds since the epoch, as the SDK computes them from its [s, ns] pairs. */
  time(ms: EpochMs): void {
    // hrTimeOf's pair, without the pair (an array per time, two per span).
    let seconds = Math.trunc(ms / 1000);
    let nanos = Math.round((ms % 1000) * 1e6);
    if (nanos >= 1e9) {
      seconds += 1;
      nanos -= 1e9;
    }
    this.room(8);
    // seconds * 1e9 + nanos exceeds 2^53: the two 32-bit halves, computed apart.
    const low16 = (seconds & 0xffff) * 1e9;
    const high = Math.floor(seconds / 0x10000) * 1e9;
    const sumLow = (low16 >>> 0) + (((high % 0x10000) * 0x10000) >>> 0) + nanos;
    const totalLow = sumLow >>> 0;
    const totalHigh =
      (Math.floor(low16 / 0x100000000) + Math.floor(high / 0x10000) + Math.floor(sumLow / 0x100000000)) >>> 0;
    this.buffer.writeUInt32LE(totalLow, this.pos);
    this.buffer.writeUInt32LE(totalHigh, this.pos + 4);
    this.pos += 8;
  }

  string(value: string): void {
    // Most strings here are short and ASCII: their length is their byte length.
    const length = value.length < 64 && isAscii(value) ? value.length : Buffer.byteLength(value);
    this.varint(length);
    this.room(length);
    if (length === value.length && length < 64) {
      const buffer = this.buffer;
      for (let i = 0; i < length; i++) buffer[this.pos + i] = value.charCodeAt(i);
    } else this.buffer.write(value, this.pos, length, 'utf8');
    this.pos += length;
  }

  /**
   * An ID given in hexadecimal (as the API's span contexts hold them), as bytes, decoded as the
   * SDK's serializer decodes it (its hexToBinary, any text alike). Here rather than by
   * Buffer.write: three IDs a span, each a call into C++ for 8 or 16 bytes.
   */
  hexBytes(hex: string): void {
    const length = hex.length >>> 1;
    this.varint(length);
    this.room(length);
    const buffer = this.buffer;
    const pos = this.pos;
    for (let i = 0; i < length; i++)
      buffer[pos + i] = (HEX_VALUES[hex.charCodeAt(i * 2)]! << 4) | HEX_VALUES[hex.charCodeAt(i * 2 + 1)]!;
    this.pos = pos + length;
  }

  /** Bytes already encoded, as they are. */
  raw(value: Uint8Array): void {
    this.room(value.length);
    this.buffer.set(value, this.pos);
    this.pos += value.length;
  }

  bytesField(value: Uint8Array): void {
    this.varint(value.length);
    this.room(value.length);
    this.buffer.set(value, this.pos);
    this.pos += value.length;
  }

  /**
   * Starts a length-delimited field's content, `reserve` bytes left for its length (1 by
   * default; 2 for a message likely longer than 127 bytes, such as a span); returns where the
   * content starts, for `end`.
   */
  begin(reserve: 1 | 2 = 1): number {
    this.room(reserve);
    this.pos += reserve;
    return this.pos;
  }

  /**
   * Writes the length of the content started at `start`, moving the content when the length
   * takes more or fewer bytes than `begin` left for it.
   */
  end(start: number, reserved: 1 | 2 = 1): void {
    const length = this.pos - start;
    const size = varintSize(length);
    if (size !== reserved) {
      this.room(size - reserved);
      this.buffer.copyWithin(start + size - reserved, start, this.pos);
      this.pos += size - reserved;
    }
    let at = start - reserved;
    let value = length;
    while (value > 0x7f) {
      this.buffer[at++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.buffer[at] = value;
  }
}

/**
 * Each character code's value as a hexadecimal digit, as the SDK's serializer reads it (upper
 * case too; anything else gives the same garbage byte as there): a table, not branches, for a
 * loop that runs 32 times a span.
 */
const HEX_VALUES = new Uint8Array(65536);
for (let code = 0; code < HEX_VALUES.length; code++)
  HEX_VALUES[code] =
    code >= 0x30 && code <= 0x39 ? code - 0x30 : code >= 0x61 && code <= 0x66 ? code - 0x57 : code - 0x37;

function isAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x7f) return false;
  return true;
}

function varintSize(value: number): number {
  let size = 1;
  while (value > 0x7f) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/** `ms` as the SDK's [seconds, nanoseconds] pair (its millisToHrTime, then normalised). */
export function hrTimeOf(ms: EpochMs): [number, number] {
  const seconds = Math.trunc(ms / 1000);
  const nanos = Math.round((ms % 1000) * 1e6);
  return nanos >= 1e9 ? [seconds + 1, nanos - 1e9] : [seconds, nanos];
}

/** An attribute value as OTLP's AnyValue message content. */
function writeAnyValue(writer: ProtoWriter, value: unknown): void {
  switch (typeof value) {
    case 'string':
      writer.tag(1, WIRE_BYTES);
      writer.string(value);
      return;
    case 'boolean':
      writer.tag(2, WIRE_VARINT);
      writer.varint(value ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63) {
        writer.tag(3, WIRE_VARINT);
        if (value >= 0) writer.varint(value);
        else writer.negativeVarint(value);
      } else {
        writer.tag(4, WIRE_FIXED64);
        writer.double(value);
      }
      return;
  }
  if (value instanceof Uint8Array) {
    writer.tag(7, WIRE_BYTES);
    writer.bytesField(value);
  } else if (Array.isArray(value)) {
    writer.tag(5, WIRE_BYTES);
    const array = writer.begin();
    for (const item of value) {
      writer.tag(1, WIRE_BYTES);
      const itemStart = writer.begin();
      writeAnyValue(writer, item);
      writer.end(itemStart);
    }
    writer.end(array);
  } else if (value !== null && typeof value === 'object') {
    // A map (the SDK's AnyValue attributes): a KeyValueList.
    writer.tag(6, WIRE_BYTES);
    const list = writer.begin();
    writeAttributes(writer, value as Attributes, 1);
    writer.end(list);
  }
}

/** Attributes as repeated KeyValue messages of field `field`. */
export function writeAttributes(writer: ProtoWriter, attributes: Attributes, field: number): void {
  for (const key in attributes) {
    if (!Object.hasOwn(attributes, key)) continue;
    const value: AttributeValue | undefined = attributes[key];
    writer.tag(field, WIRE_BYTES);
    const keyValue = writer.begin();
    writer.tag(1, WIRE_BYTES);
    writer.string(key);
    writer.tag(2, WIRE_BYTES);
    const anyValue = writer.begin();
    writeAnyValue(writer, value);
    writer.end(anyValue);
    writer.end(keyValue);
  }
}

function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | HAS_IS_REMOTE | (isRemote ? IS_REMOTE : 0);
}

/** One Span message, with its tag (ScopeSpans.spans, field 2), appended to `writer`. */
export function writeSpan(writer: ProtoWriter, span: SpanFields): void {
  writer.tag(2, WIRE_BYTES);
  // A span takes 128 bytes or more (three IDs, two times, its name and attributes): two bytes for its length.
  const start = writer.begin(2);
  writer.tag(1, WIRE_BYTES);
  writer.hexBytes(span.traceId);
  writer.tag(2, WIRE_BYTES);
  writer.hexBytes(span.spanId);
  if (span.traceState) {
    writer.tag(3, WIRE_BYTES);
    writer.string(span.traceState);
  }
  if (span.parentSpanId) {
    writer.tag(4, WIRE_BYTES);
    writer.hexBytes(span.parentSpanId);
  }
  writer.tag(5, WIRE_BYTES);
  writer.string(span.name);
  writer.tag(6, WIRE_VARINT);
  writer.varint(span.kind + 1);
  writer.tag(7, WIRE_FIXED64);
  writer.time(span.startMs);
  writer.tag(8, WIRE_FIXED64);
  writer.time(span.endMs);
  for (const set of span.encodedAttributes) writer.raw(set.bytes);
  writeAttributes(writer, span.attributes, 9);
  writer.tag(10, WIRE_VARINT);
  writer.varint(span.droppedAttributesCount);
  for (const event of span.events) {
    writer.tag(11, WIRE_BYTES);
    const eventStart = writer.begin();
    writer.tag(1, WIRE_FIXED64);
    writer.time(event.time);
    writer.tag(2, WIRE_BYTES);
    writer.string(event.name);
    writeAttributes(writer, event.attributes, 3);
    writer.tag(4, WIRE_VARINT);
    writer.varint(event.droppedAttributesCount);
    writer.end(eventStart);
  }
  writer.tag(12, WIRE_VARINT);
  writer.varint(span.droppedEventsCount);
  for (const { link, droppedAttributesCount } of span.links) {
    writer.tag(13, WIRE_BYTES);
    const linkStart = writer.begin();
    const context = link.context;
    writer.tag(1, WIRE_BYTES);
    writer.hexBytes(context.traceId);
    writer.tag(2, WIRE_BYTES);
    writer.hexBytes(context.spanId);
    const traceState = context.traceState?.serialize();
    if (traceState) {
      writer.tag(3, WIRE_BYTES);
      writer.string(traceState);
    }
    if (link.attributes) writeAttributes(writer, link.attributes, 4);
    writer.tag(5, WIRE_VARINT);
    writer.varint(droppedAttributesCount);
    writer.tag(6, WIRE_FIXED32);
    writer.fixed32(spanFlags(context.traceFlags, context.isRemote));
    writer.end(linkStart);
  }
  writer.tag(14, WIRE_VARINT);
  writer.varint(span.droppedLinksCount);
  writer.tag(15, WIRE_BYTES);
  const status = writer.begin();
  if (span.statusMessage) {
    writer.tag(2, WIRE_BYTES);
    writer.string(span.statusMessage);
  }
  writer.tag(3, WIRE_VARINT);
  writer.varint(span.statusCode);
  writer.end(status);
  writer.tag(16, WIRE_FIXED32);
  writer.fixed32(spanFlags(span.traceFlags, span.parentIsRemote));
  writer.end(start, 2);
}

/** The scope of a batch's spans: the tracer's name, version and attributes. */
export interface ScopeFields {
  readonly name: string;
  readonly version?: string;
  readonly attributes?: Attributes;
  readonly schemaUrl?: string;
}

/** A Resource message's content. */
export function resourceBytes(attributes: Attributes): Buffer {
  const writer = new ProtoWriter(1024);
  writeAttributes(writer, attributes, 1);
  writer.tag(2, WIRE_VARINT);
  writer.varint(0);
  return Buffer.from(writer.bytes());
}

/** An InstrumentationScope message's content. */
export function scopeBytes(scope: ScopeFields): Buffer {
  const writer = new ProtoWriter(256);
  writer.tag(1, WIRE_BYTES);
  writer.string(scope.name);
  if (scope.version) {
    writer.tag(2, WIRE_BYTES);
    writer.string(scope.version);
  }
  if (scope.attributes) writeAttributes(writer, scope.attributes, 3);
  return Buffer.from(writer.bytes());
}

/** The spans of one scope in a request: the scope's message content and its spans' tagged messages. */
export interface ScopeBatch {
  readonly scope: Buffer;
  readonly schemaUrl?: string;
  readonly spans: Buffer;
}

/**
 * An ExportTraceServiceRequest of one resource: its ResourceSpans holding one ScopeSpans per
 * scope, each with its spans as writeSpan wrote them.
 */
export function exportRequest(resource: Buffer, scopes: readonly ScopeBatch[], resourceSchemaUrl?: string): Buffer {
  const writer = new ProtoWriter(
    resource.length + scopes.reduce((sum, s) => sum + s.scope.length + s.spans.length + 32, 64),
  );
  writer.tag(1, WIRE_BYTES);
  const resourceSpans = writer.begin();
  writer.tag(1, WIRE_BYTES);
  writer.bytesField(resource);
  for (const batch of scopes) {
    writer.tag(2, WIRE_BYTES);
    const scopeSpans = writer.begin();
    writer.tag(1, WIRE_BYTES);
    writer.bytesField(batch.scope);
    writer.room(batch.spans.length);
    batch.spans.copy(writer.buffer, writer.pos);
    writer.pos += batch.spans.length;
    if (batch.schemaUrl) {
      writer.tag(3, WIRE_BYTES);
      writer.string(batch.schemaUrl);
    }
    writer.end(scopeSpans);
  }
  if (resourceSchemaUrl) {
    writer.tag(3, WIRE_BYTES);
    writer.string(resourceSchemaUrl);
  }
  writer.end(resourceSpans);
  return writer.bytes();
}
