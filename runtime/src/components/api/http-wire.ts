/**
 * How an endpoint call looks on the wire, the one place the HTTP server and client agree on:
 * POST/PUT/PATCH carry the argument as a JSON body, GET/DELETE as `?arg=<JSON text>` (or, when
 * that would make too long a URL, as a POST with `x-http-method-override` and a JSON body); an
 * answer is JSON (`{ error, status }` for an error), 204 for `undefined`.
 */
import secureJsonParse from 'secure-json-parse';

/** The query parameter that carries a GET or DELETE argument. */
export const ARG_PARAM = 'arg';

/**
 * A GET or DELETE whose `?arg=` would be longer than this many characters is sent as a POST
 * with METHOD_OVERRIDE_HEADER and the argument as its body: proxies and Node itself (16 KiB of
 * headers) refuse long URLs, and 4 KiB is what every one of them takes.
 */
export const MAX_QUERY_LENGTH = 4096;

/** The header naming the GET or DELETE endpoint a POST calls (the Google/Microsoft convention). */
export const METHOD_OVERRIDE_HEADER = 'x-http-method-override';

export { HEALTH_ROUTE, errorBody } from './endpoint.ts';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** Rejects `__proto__` and `constructor.prototype` keys, as Fastify's own JSON body parser does. */
const parseOptions = { protoAction: 'error', constructorAction: 'error' } as const;

/**
 * Deepest nesting of arrays and objects accepted in untrusted JSON. Far beyond any real
 * argument; deeper text would parse but could overflow the stack of whatever walks it later
 * (a clone, a stringify, the handler), which would answer 500 instead of naming the problem.
 */
export const MAX_JSON_DEPTH = 256;

/** Why untrusted text was refused. */
export type JsonInputProblem = 'syntax' | 'forbiddenKey' | 'tooDeep' | 'outOfRange';

export class JsonInputError extends Error {
  readonly problem: JsonInputProblem;
  constructor(problem: JsonInputProblem) {
    super(
      problem === 'forbiddenKey'
        ? 'JSON with a forbidden key'
        : problem === 'tooDeep'
          ? `JSON nested deeper than ${MAX_JSON_DEPTH}`
          : problem === 'outOfRange'
            ? 'JSON with a number beyond a double'
            : 'not JSON',
    );
    this.problem = problem;
  }
  /** True when the text was JSON but carried a prototype-pollution key. */
  get forbiddenKey(): boolean {
    return this.problem === 'forbiddenKey';
  }
}

/** Parses untrusted JSON text; throws JsonInputError (never the parser's own text). */
export function parseUntrustedJson(text: string): unknown {
  const scan = scanJson(text, MAX_JSON_DEPTH);
  if (scan === TOO_DEEP) throw new JsonInputError('tooDeep');
  let value: unknown;
  try {
    value = secureJsonParse(text, null, parseOptions);
  } catch (err) {
    // secure-json-parse parses first and then scans, so a scan failure means the text was JSON.
    throw new JsonInputError(
      err instanceof SyntaxError && err.message.includes('forbidden prototype property') ? 'forbiddenKey' : 'syntax',
    );
  }
  // JSON.parse makes 1e400 Infinity, which no caller in one process can send (it has no JSON form).
  if (scan === MAY_OVERFLOW && !allFinite(value)) throw new JsonInputError('outOfRange');
  return value;
}

const TOO_DEEP = 1;
const MAY_OVERFLOW = 2;

/**
 * One pass before any parsing: TOO_DEEP when brackets outside strings nest deeper than `max`,
 * MAY_OVERFLOW when a number has an exponent or over 300 digits (only those can exceed a
 * double), else 0.
 */
function scanJson(text: string, max: number): number {
  let depth = 0;
  let inString = false;
  let digits = 0;
  let result = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \\ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c >= 0x30 && c <= 0x39) {
      if (++digits > 300) result = MAY_OVERFLOW;
      continue;
    }
    // An e after a digit is an exponent; the e of true and false follows a letter.
    if ((c === 0x65 || c === 0x45) /* e, E */ && digits > 0) result = MAY_OVERFLOW;
    if (c !== 0x2e /* . */) digits = 0;
    if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return TOO_DEEP;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return result;
}

function allFinite(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'object' || value === null) return true;
  for (const item of Array.isArray(value) ? value : Object.values(value)) if (!allFinite(item)) return false;
  return true;
}

export function bearer(token: string): string {
  return `Bearer ${token}`;
}
