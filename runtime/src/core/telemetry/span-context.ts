/**
 * Span contexts whose IDs are known to be valid: those the runtime's tracer makes (IDs it drew,
 * under a parent it checked) and those its propagator read from a traceparent it checked. The
 * API's isSpanContextValid tests each digit of both IDs and compares them with the invalid
 * ones, and a traced API call asked it five times of the same few contexts (the tracer, the log
 * line, the client's header).
 */
import { isSpanContextValid, type SpanContext, type TraceState } from '@opentelemetry/api';

export class CheckedSpanContext implements SpanContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  readonly traceState: TraceState | undefined;
  readonly isRemote: boolean | undefined;

  /** `traceId` and `spanId` must be valid as isSpanContextValid has them: 32 and 16 hex digits, not all zeros. */
  constructor(traceId: string, spanId: string, traceFlags: number, traceState?: TraceState, isRemote?: boolean) {
    this.traceId = traceId;
    this.spanId = spanId;
    this.traceFlags = traceFlags;
    this.traceState = traceState;
    this.isRemote = isRemote;
  }
}

/** isSpanContextValid, without testing a context known to be valid again. */
export function isValidSpanContext(context: SpanContext): boolean {
  return context instanceof CheckedSpanContext || isSpanContextValid(context);
}
