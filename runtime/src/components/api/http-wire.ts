/**
 * How an endpoint call looks on the wire, the one place the HTTP server and client agree on:
 * POST/PUT/PATCH carry the argument as a JSON body, GET/DELETE as `?arg=<JSON text>`; an
 * answer is JSON (`{ error, status }` for an error), 204 for `undefined`.
 */
import secureJsonParse from 'secure-json-parse';

/** The query parameter that carries a GET or DELETE argument. */
export const ARG_PARAM = 'arg';

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
export type JsonInputProblem = 'syntax' | 'forbiddenKey' | 'tooDeep';

export class JsonInputError extends Error {
  readonly problem: JsonInputProblem;
  constructor(problem: JsonInputProblem) {
    super(
      problem === 'forbiddenKey'
        ? 'JSON with a forbidden key'
        : problem === 'tooDeep'
          ? `JSON nested deeper than ${MAX_JSON_DEPTH}`
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
  if (nestingExceeds(text, MAX_JSON_DEPTH)) throw new JsonInputError('tooDeep');
  try {
    return secureJsonParse(text, null, parseOptions);
  } catch (err) {
    // secure-json-parse parses first and then scans, so a scan failure means the text was JSON.
    throw new JsonInputError(
      err instanceof SyntaxError && err.message.includes('forbidden prototype property') ? 'forbiddenKey' : 'syntax',
    );
  }
}

/** Whether brackets outside strings nest deeper than `max` (one pass, before any parsing). */
function nestingExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \\ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return false;
}

export function bearer(token: string): string {
  return `Bearer ${token}`;
}
