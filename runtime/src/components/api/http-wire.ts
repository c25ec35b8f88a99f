/**
 * How an endpoint call looks on the wire, the one place the HTTP server and client agree on:
 * POST/PUT/PATCH carry the argument as a JSON body, GET/DELETE as `?arg=<JSON text>`; an
 * answer is JSON (`{ error, status }` for an error), 204 for `undefined`.
 */
import secureJsonParse from 'secure-json-parse';

/** The query parameter that carries a GET or DELETE argument. */
export const ARG_PARAM = 'arg';

/** Answers 200 `{ status: 'ok', id }` without a token, for container healthchecks and the local runner. */
export const HEALTH_ROUTE = '/healthz';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** Rejects `__proto__` and `constructor.prototype` keys, as Fastify's own JSON body parser does. */
const parseOptions = { protoAction: 'error', constructorAction: 'error' } as const;

export class JsonInputError extends Error {
  /** True when the text was JSON but carried a prototype-pollution key. */
  readonly forbiddenKey: boolean;
  constructor(forbiddenKey: boolean) {
    super(forbiddenKey ? 'JSON with a forbidden key' : 'not JSON');
    this.forbiddenKey = forbiddenKey;
  }
}

/** Parses untrusted JSON text; throws JsonInputError (never the parser's own text). */
export function parseUntrustedJson(text: string): unknown {
  try {
    return secureJsonParse(text, null, parseOptions);
  } catch (err) {
    // secure-json-parse parses first and then scans, so a scan failure means the text was JSON.
    throw new JsonInputError(err instanceof SyntaxError && err.message.includes('forbidden prototype property'));
  }
}

/** The JSON text of an error answer. */
export function errorBody(status: number, message: string): string {
  return JSON.stringify({ error: message, status });
}

export function bearer(token: string): string {
  return `Bearer ${token}`;
}
