/**
 * What an ApiServer writes about each HTTP request it answers: one access line (method, route,
 * status, duration, request ID), whatever the outcome, refusals included, and its duration on
 * the http.server.request.duration histogram. The line is written in the trace of the call (the
 * server span's, or the caller's when no span was made, as for a 401), so the log mixin gives
 * it the trace ID that leads from the line to the trace.
 *
 * Headers are never written: the authorization header is the API's bearer token.
 */
import { randomUUID } from 'node:crypto';
import { propagation, type Attributes, type Context } from '@opentelemetry/api';
import { ROOT } from '../../core/telemetry/context.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { shorten } from '../../private/text.ts';
import { logFlat, rootLogger } from '../../core/telemetry/log.ts';
import { httpServerDuration, metricsRecording, type DurationSeries } from '../../core/telemetry/metrics.ts';
import {
  ATTR_COMPONENT_ID,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
} from '../../core/telemetry/attributes.ts';
import { HEALTH_ROUTE, type Endpoint, type ServedRequest } from './endpoint.ts';

/** The header a request's ID comes in (from a proxy, or a caller that has one) and is answered in. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * An incoming ID is kept when it looks like one: visible ASCII, at most 128 characters. Anything
 * else (a repeated header, which Node joins with commas; a huge or binary value) gets a new ID,
 * so a caller cannot make the access lines or the answer's header carry what it likes.
 */
const INCOMING_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * New IDs: a UUID (version 4 in form) whose first 74 bits are random per process and whose last
 * 48 count requests, so IDs are unique across the app's processes and cost a counter's
 * increment rather than a random UUID's 0.4 µs. An ID names a request; it is no secret.
 */
const idPrefix = randomUUID().slice(0, 24);
let idCounter = 0;

/** The request's ID: the one it came with, when fit, else a new one. */
export function requestIdOf(header: string | string[] | undefined): string {
  if (typeof header === 'string' && INCOMING_ID.test(header)) return header;
  idCounter = (idCounter + 1) % 2 ** 48;
  return idPrefix + idCounter.toString(16).padStart(12, '0');
}

/** A request refused before Fastify parsed it (malformed HTTP, CONNECT): what is known of it. */
export interface RefusedRequest {
  method?: string;
  route?: string;
  status: number;
  requestId: string;
  /** Why it was refused, in the line's message (the request itself may not be readable). */
  problem?: string;
}

export interface AccessLogger {
  /** The line and the duration of a request Fastify answered (from its onResponse hook). */
  answered(request: FastifyRequest & ServedRequest, reply: FastifyReply): void;
  /** The line of a request answered without Fastify. */
  refused(request: RefusedRequest): void;
}

/** The methods the conventions name; others are `_OTHER` on a metric, so its series stay few. */
const knownMethods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

export function accessLogger(component: string): AccessLogger {
  // The duration series of each endpoint (or route) and status, found once, then kept.
  const endpointSeries = new WeakMap<Endpoint, Map<number, DurationSeries>>();
  const seriesOf = (method: string, route: string | undefined, status: number): DurationSeries => {
    const known = knownMethods.has(method) ? method : '_OTHER';
    return httpServerDuration.series(`${component} ${known} ${route ?? ''} ${status}`, () => {
      const attributes: Attributes = {
        [ATTR_HTTP_REQUEST_METHOD]: known,
        [ATTR_HTTP_RESPONSE_STATUS_CODE]: status,
        [ATTR_COMPONENT_ID]: component,
      };
      if (route !== undefined) attributes[ATTR_HTTP_ROUTE] = route;
      return attributes;
    });
  };
  const endpointSeriesOf = (endpoint: Endpoint, status: number): DurationSeries => {
    let byStatus = endpointSeries.get(endpoint);
    if (byStatus === undefined) endpointSeries.set(endpoint, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (series === undefined) byStatus.set(status, (series = seriesOf(endpoint.method, endpoint.route, status)));
    return series;
  };
  return {
    answered(request, reply) {
      // request.routeOptions makes an object at each read: read only when no endpoint was reached.
      const endpoint = request.endpoint ?? (request.routeOptions.config as { endpoint?: Endpoint }).endpoint;
      // A call's method is its endpoint's, also when it came as a POST with x-http-method-override.
      const method = endpoint?.method ?? request.method;
      // Undefined when no route matched: a 404's path is on the line, never on the metric.
      const route = endpoint?.route ?? (request.is404 ? undefined : request.routeOptions.url);
      const status = reply.statusCode;
      const durationMs = reply.elapsedTime;
      if (metricsRecording())
        (endpoint === undefined ? seriesOf(method, route, status) : endpointSeriesOf(endpoint, status)).record(
          durationMs / 1000,
        );
      // Health checks come every few seconds from the platform: their lines only at debug.
      const level: 'debug' | 'info' = route === HEALTH_ROUTE ? 'debug' : 'info';
      if (!rootLogger().isLevelEnabled(level)) return;
      const line = {
        component,
        // An endpoint's method and route are its own; a request's are the caller's, cut short.
        method: endpoint === undefined ? shorten(method) : method,
        route: route ?? shorten(request.url.split('?', 1)[0]),
        status,
        durationMs: Math.round(durationMs * 1000) / 1000,
        requestId: request.id,
      };
      const message = `${line.method} ${line.route} ${status} ${durationMs.toFixed(1)} ms`;
      // A request that reached no handler (a 401, a 404) is told in the caller's trace, if it
      // sent one: extracted whenever a propagator is registered, also with no tracer (metrics only).
      const trace: Context = request.traceContext ?? propagation.extract(ROOT, request.headers);
      logFlat(level, line, message, trace);
    },

    refused({ method, route, status, requestId, problem }) {
      const line = { component, method, route, status, requestId };
      const said = [method, route, status].filter((part) => part !== undefined).join(' ');
      rootLogger().info(line, problem === undefined ? said : `${said}: ${problem}`);
    },
  };
}
