/**
 * W3C Trace Context (`traceparent`, `tracestate`) as @opentelemetry/core's propagator carries
 * it, with a faster reading of the usual header: version 00, lower-case, nothing around it,
 * no tracestate. Every call an ApiServer serves reads one; the SDK's regular expression (with
 * its look-aheads and optional spaces) and its captures cost about a microsecond a call, a
 * check of 55 characters a tenth of that. Anything else (another version, a tracestate, spaces,
 * a repeated header) is read by the SDK's propagator itself, so both read every header alike.
 * The span context read is a CheckedSpanContext, whose IDs nothing needs to test again; one of
 * those, with no tracestate, is written without testing them either.
 */
import { trace, type Context, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { isTracingSuppressed, W3CTraceContextPropagator } from '@opentelemetry/core';
import { CheckedSpanContext } from '../core/telemetry/span-context.ts';

const TRACE_PARENT_HEADER = 'traceparent';
const TRACE_STATE_HEADER = 'tracestate';
/** `00-` + 32 hex digits + `-` + 16 hex digits + `-` + 2 hex digits. */
const VERSION_00_LENGTH = 55;

export class TraceContextPropagator extends W3CTraceContextPropagator {
  override extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const header = getter.get(carrier, TRACE_PARENT_HEADER);
    if (typeof header === 'string' && getter.get(carrier, TRACE_STATE_HEADER) === undefined) {
      const parent = version00(header);
      if (parent !== undefined) return trace.setSpanContext(context, parent);
    }
    return super.extract(context, carrier, getter);
  }

  /** The SDK's traceparent, without testing the IDs of a span context known to be valid again. */
  override inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const spanContext = trace.getSpanContext(context);
    if (spanContext instanceof CheckedSpanContext && spanContext.traceState === undefined) {
      if (!isTracingSuppressed(context))
        setter.set(
          carrier,
          TRACE_PARENT_HEADER,
          `00-${spanContext.traceId}-${spanContext.spanId}-0${Number(spanContext.traceFlags || 0).toString(16)}`,
        );
      return;
    }
    super.inject(context, carrier, setter);
  }
}

/**
 * The span context of a version-00 traceparent in its one exact form, or undefined for any
 * other text (which the SDK's parser then reads, or refuses).
 */
export function version00(header: string) {
  if (header.length !== VERSION_00_LENGTH || header.charCodeAt(0) !== ZERO || header.charCodeAt(1) !== ZERO)
    return undefined;
  if (header.charCodeAt(2) !== DASH || header.charCodeAt(35) !== DASH || header.charCodeAt(52) !== DASH)
    return undefined;
  // Lower-case hex digits only; an all-zero trace or span ID is invalid.
  let traceBits = 0;
  for (let i = 3; i < 35; i++) {
    const digit = hexDigit(header.charCodeAt(i));
    if (digit < 0) return undefined;
    traceBits |= digit;
  }
  let spanBits = 0;
  for (let i = 36; i < 52; i++) {
    const digit = hexDigit(header.charCodeAt(i));
    if (digit < 0) return undefined;
    spanBits |= digit;
  }
  const high = hexDigit(header.charCodeAt(53));
  const low = hexDigit(header.charCodeAt(54));
  if (traceBits === 0 || spanBits === 0 || high < 0 || low < 0) return undefined;
  return new CheckedSpanContext(header.slice(3, 35), header.slice(36, 52), high * 16 + low, undefined, true);
}

const ZERO = 0x30;
const NINE = 0x39;
const LOWER_A = 0x61;
const LOWER_F = 0x66;
const DASH = 0x2d;

/** A lower-case hex digit's value, else -1. */
function hexDigit(code: number): number {
  if (code >= ZERO && code <= NINE) return code - ZERO;
  if (code >= LOWER_A && code <= LOWER_F) return code - LOWER_A + 10;
  return -1;
}
