/**
 * What an endpoint call records, in one process and over HTTP alike: a CLIENT span around the
 * client function's call and a SERVER span around the handler (its child in one process, its
 * remote child over HTTP), both named `METHOD /route`. An argument never reaches a span: it is
 * the caller's data, and the route already says what was called.
 *
 * With no OpenTelemetry SDK registered, the spans are the API's no-ops: nothing here allocates
 * per call beyond what the API itself does, and what each endpoint's spans and log lines carry
 * is made once, when the endpoint is defined.
 */
import { SpanStatusCode, type Attributes, type Context } from '@opentelemetry/api';
import { errorTypeOf, inHandedSpan, SpanKind, tracing, type SpanOutcome } from '../../core/telemetry/tracing.ts';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
} from '../../core/telemetry/attributes.ts';
import type { LogScope } from '../../core/telemetry/scope.ts';
import { HttpError } from './http-error.ts';

/** What an endpoint's spans and its handler's log lines carry. */
export interface EndpointTelemetry {
  /** `GET /route`: the name of its spans, and the `endpoint` of its handler's log lines. */
  readonly name: string;
  /** http.request.method and http.route, shared by every span of the endpoint (the SDK copies them). */
  readonly attributes: Attributes;
  /** The log scope of its handler in one process (over HTTP, the request's ID is added). */
  readonly scope: LogScope;
}

export function endpointTelemetry(serverId: string, method: string, route: string): EndpointTelemetry {
  const name = `${method} ${route}`;
  return Object.freeze({
    name,
    attributes: Object.freeze({ [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_HTTP_ROUTE]: route }),
    scope: Object.freeze({ component: serverId, endpoint: name }),
  });
}

/**
 * Runs `call` (the platform's call of the endpoint) as a CLIENT span, which records the status
 * of the answer: 200 or 204 for a value, the status of the HttpError the call throws. `call`
 * gets the span's context to hand on (traceparent, or the server span's parent in one
 * process); the span is never the active one.
 */
export function inClientSpan(
  telemetry: EndpointTelemetry,
  serverId: string,
  call: (traced: Context | undefined) => Promise<unknown>,
): Promise<unknown> {
  // Not traced: the call itself, without a wrapper awaiting it.
  if (!tracing()) return call(undefined);
  // The call hands its span on itself (in the request, or to the server's span in one process):
  // it need not be the active one.
  return inHandedSpan(
    telemetry.name,
    SpanKind.CLIENT,
    serverId,
    telemetry.attributes,
    (_span, traced) => call(traced),
    answered,
  );
}

/** What a client span records of the answer. */
const answered: SpanOutcome<unknown> = {
  // A value is 200 and undefined 204 in both modes (endpoint.ts), so the value tells the status.
  value: (span, value) => span.setAttributes(statusAttributes(value === undefined ? 204 : 200)),
  error(span, err) {
    if (err instanceof HttpError) span.setAttributes(statusAttributes(err.status));
    span.setAttribute(ATTR_ERROR_TYPE, errorType(err));
  },
};

/** What a server span records of its answer: the status; a 5xx (and only that: a 4xx is the caller's) fails it. */
export const served: SpanOutcome<{ status: number }> = {
  value(span, { status }) {
    span.setAttributes(statusAttributes(status));
    if (status >= 500) {
      span.setAttribute(ATTR_ERROR_TYPE, String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  },
};

/** One frozen set per status (HTTP's few), which the tracer encodes once (telemetry-tracer.ts). */
const statusSets = new Map<number, Attributes>();

function statusAttributes(status: number): Attributes {
  let attributes = statusSets.get(status);
  if (attributes === undefined) {
    attributes = Object.freeze({ [ATTR_HTTP_RESPONSE_STATUS_CODE]: status });
    // Statuses are integers from 100 to 599 (Fastify refuses others): a bound all the same.
    if (statusSets.size < 1000) statusSets.set(status, attributes);
  }
  return attributes;
}

/**
 * The conventions' `error.type`, of few values: the status of an HttpError, the code of an
 * error of ours (INFRA_API_UNREACHABLE) or of Node's, else the error's class.
 */
export function errorType(err: unknown): string {
  return err instanceof HttpError ? String(err.status) : errorTypeOf(err);
}
