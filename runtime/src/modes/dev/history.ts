/**
 * What the dev loop remembers for the dashboard: the recent log lines and traces of the app
 * (across its restarts), each bounded, the oldest forgotten first, so a long session's memory
 * stays flat.
 */
import type { LogLevel, LogLine, SpanView, TraceSummary, TraceView } from '../dev-dashboard-api.ts';

export const MAX_LOG_LINES = 10_000;
export const MAX_TRACES = 500;
export const MAX_SPANS_PER_TRACE = 2_000;

const levelRank: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

export interface LogFilter {
  readonly persona?: string;
  /** The lowest level shown. */
  readonly level?: LogLevel;
  /** Case-insensitive text in the message or the fields. */
  readonly q?: string;
  readonly limit?: number;
}

export class LogHistory {
  readonly #lines: LogLine[] = [];
  readonly #max: number;
  #seq = 0;

  constructor(max = MAX_LOG_LINES) {
    this.#max = max;
  }

  add(line: Omit<LogLine, 'seq'>): LogLine {
    const full = { ...line, seq: ++this.#seq };
    this.#lines.push(full);
    if (this.#lines.length > this.#max) this.#lines.splice(0, this.#lines.length - this.#max);
    return full;
  }

  /** The newest `limit` lines that pass `filter`, oldest first. */
  find(filter: LogFilter = {}): LogLine[] {
    const min = filter.level === undefined ? 0 : levelRank[filter.level];
    const q = filter.q?.toLowerCase();
    const out: LogLine[] = [];
    const limit = filter.limit ?? 1000;
    for (let i = this.#lines.length - 1; i >= 0 && out.length < limit; i--) {
      const line = this.#lines[i]!;
      if (filter.persona !== undefined && line.persona !== filter.persona) continue;
      if (levelRank[line.level] < min) continue;
      if (q !== undefined && !`${line.msg} ${JSON.stringify(line.fields)}`.toLowerCase().includes(q)) continue;
      out.push(line);
    }
    return out.reverse();
  }
}

export function isLogLevel(text: string): text is LogLevel {
  return Object.hasOwn(levelRank, text);
}

export class TraceHistory {
  /** Trace ID → its spans by span ID; a Map keeps the order traces first arrived in. */
  readonly #traces = new Map<string, Map<string, SpanView>>();
  readonly #max: number;

  constructor(max = MAX_TRACES) {
    this.#max = max;
  }

  /** Adds spans; returns the IDs of the traces that got new ones. */
  add(spans: readonly (SpanView & { traceId: string })[]): string[] {
    const touched = new Set<string>();
    for (const { traceId, ...span } of spans) {
      let trace = this.#traces.get(traceId);
      if (!trace) {
        this.#traces.set(traceId, (trace = new Map()));
        if (this.#traces.size > this.#max) this.#traces.delete(this.#traces.keys().next().value!);
      }
      if (trace.size >= MAX_SPANS_PER_TRACE && !trace.has(span.spanId)) continue;
      trace.set(span.spanId, span);
      touched.add(traceId);
    }
    return [...touched];
  }

  summary(traceId: string): TraceSummary | undefined {
    const trace = this.#traces.get(traceId);
    if (!trace || trace.size === 0) return undefined;
    const spans = [...trace.values()];
    const start = Math.min(...spans.map((s) => s.start));
    const end = Math.max(...spans.map((s) => s.end));
    // The root: the span without a parent here; else (its root not yet arrived) the earliest.
    const root = spans.find((s) => s.parentSpanId === undefined) ?? spans.find((s) => s.start === start)!;
    return {
      traceId,
      name: root.name,
      service: root.service,
      start,
      durationMs: end - start,
      spanCount: spans.length,
      error: spans.some((s) => s.status === 'error'),
    };
  }

  /** Newest first. */
  summaries(): TraceSummary[] {
    return [...this.#traces.keys()]
      .map((id) => this.summary(id)!)
      .filter(Boolean)
      .sort((a, b) => b.start - a.start);
  }

  get(traceId: string): TraceView | undefined {
    const trace = this.#traces.get(traceId);
    if (!trace) return undefined;
    return { traceId, spans: [...trace.values()].sort((a, b) => a.start - b.start) };
  }
}
