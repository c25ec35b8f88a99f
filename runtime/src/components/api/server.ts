/**
 * ApiServer: a persona that serves typed endpoints. `defineEndpoint` returns the client
 * function, typed like the handler, that any other persona calls.
 */
import { brand, hasBrand } from '../../core/brands.ts';
import { componentPlatform } from '../platform.ts';
import type { ID } from '../../core/id.ts';
import { errors, messageOf } from '../../core/errors.ts';
import { toJsonText } from '../../core/json.ts';
import {
  DEFAULT_ENDPOINT_TIMEOUT_MS,
  HEALTH_ROUTE,
  httpMethods,
  OPENAPI_ROUTE,
  type Endpoint,
  type EndpointContext,
  type HttpMethod,
} from './endpoint.ts';
import { ArgumentSchema, isSchemaLike } from './argument-schema.ts';
import { OutputSchema } from './output-schema.ts';
import { Deadlines } from './deadlines.ts';
import { endpointTelemetry, inClientSpan } from './telemetry.ts';
import type { Static, TSchema } from 'typebox';
import { Port } from '../../values/port.ts';
import { Secret } from '../../values/secret.ts';
import { Persona as PersonaBase, type PersonaOptions } from '../../core/persona.ts';
import { assertMayCallApi, endpointOfClient, mayCallApi } from '../../core/access.ts';
import { randomBytes } from 'node:crypto';
import { shortHash } from '../../private/hash.ts';
import { API_CLIENT_CONNECTIONS, connectionCount } from '../connection-limits.ts';

export interface ApiServerOptions extends PersonaOptions {
  /**
   * A public API publishes its port on the host and takes calls without a token. Default
   * false: every call must carry the API's bearer token, which only the personas allowed to
   * call it receive.
   */
  public?: boolean;
  /**
   * The most connections each persona that calls this API keeps open to it, deployed (default
   * 64, from 1 to 10 000); further calls wait for one. The variable `<API_ID>__CONNECTIONS` of a
   * caller's environment overrides it for that deployment.
   */
  clientConnections?: number;
}

export interface EndpointOptions {
  /** The HTTP method (default POST). GET and DELETE carry the argument in the query string. */
  method?: HttpMethod;
  /**
   * A TypeBox type the argument must match, in one process and over HTTP alike; a call whose
   * argument does not gets 400 naming the endpoint and the failing path (`/id must be string`),
   * and the handler never sees it. The handler's parameter type is inferred from it.
   */
  input?: TSchema;
  /**
   * A TypeBox type of what the handler returns: the client's result type is inferred from it,
   * the answer is written by fast-json-stringify from it, and a value that does not match is a
   * 500 (logged with the mismatch), in one process and over HTTP alike.
   */
  output?: TSchema;
  /**
   * How long the handler may take, in ms (default 30 000): then the caller gets 504 naming the
   * endpoint, in one process and over HTTP alike, and the handler's `signal` aborts.
   */
  timeout?: number;
}

/** The options of an endpoint whose argument is checked against the TypeBox type `S`. */
export interface CheckedEndpointOptions<S extends TSchema> extends EndpointOptions {
  input: S;
}

/** The options of an endpoint whose result is checked against the TypeBox type `O`. */
export interface OutputEndpointOptions<O extends TSchema> extends EndpointOptions {
  output: O;
}

/** What a handler whose result is checked against `O` returns. */
type Output<O extends TSchema> = Static<O> | Promise<Static<O>>;

/** The client function of an endpoint: the handler's parameters, always async. */
export type EndpointClient<Args extends unknown[], R> = (...args: Args) => Promise<Awaited<R>>;

/**
 * A handler without an input schema: at most the argument, and the context after it. A method
 * signature, so that a handler's own parameter type (`(id: string) => …`) is accepted, and an
 * unannotated one is `unknown`.
 */
type UncheckedHandler = { bivariant(arg: unknown, context: EndpointContext): unknown }['bivariant'];

/** The client's parameters for a handler's: the argument's, without the context. */
type ClientArgs<P extends unknown[]> = P extends [infer A, EndpointContext] ? [arg: A] : P;

const MAX_TIMEOUT_MS = 2 ** 31 - 1;

const routePattern = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;

export class ApiServer extends PersonaBase {
  /** Whether `value` is an ApiServer (of any copy of this package). */
  static isApiServer(value: unknown): value is ApiServer {
    return hasBrand(value, 'ApiServer');
  }

  readonly lifecycle = 'server';
  readonly #endpoints: Endpoint[] = [];
  /** The port it listens on (kept stable across builds); every persona may know it. */
  readonly port: Port;
  readonly public: boolean;
  /** The bearer token callers must send (none for a public API). */
  readonly token: Secret | undefined;
  /** Connections per caller, in code (a deployment may override it: ApiServerOptions). */
  readonly clientConnections: number;

  constructor(id: ID, options: ApiServerOptions = {}) {
    super(id, 'ApiServer', options);
    this.public = options.public ?? false;
    this.clientConnections = connectionCount(
      API_CLIENT_CONNECTIONS,
      options.clientConnections,
      { kind: 'ApiServer', id: id.value },
      'clientConnections',
    );
    this.port = new Port(id.child('port'), { readers: [this.app.root] });
    this.token = this.public
      ? undefined
      : new Secret(id.child('token'), () => randomBytes(32).toString('base64url'), {
          readers: (persona) => {
            const caller = this.app.find(persona);
            return PersonaBase.isPersona(caller) && mayCallApi(caller, this);
          },
        });
  }

  /** Its endpoints, each frozen: no other persona may swap a handler that runs as this server. */
  get endpoints(): readonly Endpoint[] {
    return Object.freeze([...this.#endpoints]);
  }

  /**
   * What it serves and to whom: a persona started against an older build must not serve a
   * route, method or schema the build never saw, nor drop the token the build planned.
   */
  override fingerprintLines(): string[] {
    const id = this.id.value;
    return [
      `${id} is ${this.public ? 'public' : 'token-protected'}`,
      ...this.#endpoints.map(
        (e) =>
          `${id} serves ${e.method} ${e.route} input ${e.input ? shortHash(JSON.stringify(e.input.schema)) : 'unchecked'}` +
          (e.output ? ` output ${shortHash(JSON.stringify(e.output.schema))}` : ''),
      ),
    ];
  }

  /**
   * Defines `method route` served by `handler` (which takes at most one JSON argument) and
   * returns the function that calls it: directly in one process, over HTTP when deployed.
   * With `input`, the argument is checked against that TypeBox type before the handler runs.
   */
  defineEndpoint<S extends TSchema, O extends TSchema>(
    route: string,
    handler: (arg: Static<S>, context: EndpointContext) => Output<O>,
    options: CheckedEndpointOptions<S> & OutputEndpointOptions<O>,
  ): EndpointClient<[arg: Static<S>], Static<O>>;
  defineEndpoint<S extends TSchema, R>(
    route: string,
    handler: (arg: Static<S>, context: EndpointContext) => R,
    options: CheckedEndpointOptions<S> & { output?: undefined },
  ): EndpointClient<[arg: Static<S>], R>;
  // Without a schema (`input` left out, never a schema the first signatures refused: a handler
  // typed apart from its schema must not compile).
  defineEndpoint<O extends TSchema, H extends (arg: never, context: EndpointContext) => Output<O>>(
    route: string,
    handler: H & UncheckedHandler,
    options: OutputEndpointOptions<O> & { input?: undefined },
  ): EndpointClient<ClientArgs<Parameters<H>>, Static<O>>;
  defineEndpoint<H extends UncheckedHandler>(
    route: string,
    handler: H,
    options?: EndpointOptions & { input?: undefined; output?: undefined },
  ): EndpointClient<ClientArgs<Parameters<H>>, ReturnType<H>>;
  defineEndpoint(
    route: string,
    handler: (arg: never, context: EndpointContext) => unknown,
    options: EndpointOptions = {},
  ): EndpointClient<[arg?: unknown], unknown> {
    this.assertPhase('defineEndpoint()', 'startup');
    const method = (options.method ?? 'POST').toUpperCase() as HttpMethod;
    if (!httpMethods.includes(method)) throw errors.invalidMethod(this.id.value, String(options.method));
    // No `:` or `*`: they are Fastify's parameters and wildcards, and would match more than the route says.
    if (typeof route !== 'string' || !routePattern.test(route) || route.includes('//') || /[:*]/.test(route))
      throw errors.invalidRoute(this.id.value, String(route));
    if (route === HEALTH_ROUTE || (this.public && route === OPENAPI_ROUTE))
      throw errors.reservedRoute(this.id.value, route);
    if (this.#endpoints.some((e) => e.method === method && e.route === route))
      throw errors.duplicateEndpoint(this.id.value, method, route);
    if (typeof handler !== 'function')
      throw errors.notAFunction(this.kind, this.id.value, `the handler of ${method} ${route} must be a function`);
    if (options.input !== undefined && !isSchemaLike(options.input))
      throw errors.invalidInputSchema(this.id.value, method, route, 'it is not a schema object');
    if (options.output !== undefined && !isSchemaLike(options.output))
      throw errors.invalidOutputSchema(this.id.value, method, route, 'it is not a schema object');
    const timeoutMs = options.timeout ?? DEFAULT_ENDPOINT_TIMEOUT_MS;
    // setTimeout's own limit; beyond it Node would fire at once.
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS)
      throw errors.invalidEndpointTimeout(this.id.value, method, route, options.timeout);
    const input = options.input === undefined ? undefined : new ArgumentSchema(options.input);
    const output = options.output === undefined ? undefined : new OutputSchema(options.output);
    const endpoint: Endpoint = Object.freeze({
      server: this,
      method,
      route,
      handler: handler as Endpoint['handler'],
      input,
      output,
      timeoutMs,
      deadlines: new Deadlines(timeoutMs),
      telemetry: endpointTelemetry(this.id.value, method, route),
    });
    this.#endpoints.push(endpoint);
    const client = async (...args: [arg?: unknown]): Promise<unknown> => {
      this.assertPhase(`${method} ${route}`, 'runtime');
      assertMayCallApi(this, `${method} ${route}`);
      // Checked once, as the text both modes start from (a value JSON cannot hold fails here, alike).
      const text = toJsonText(args[0], this.toString(), `the argument of ${method} ${route}`, this.id.value);
      // Here rather than in each platform: one process and HTTP record the same client span.
      return inClientSpan(endpoint.telemetry, this.id.value, (traced) =>
        componentPlatform(this.app).call(endpoint, text, traced),
      );
    };
    Object.defineProperties(client, { name: { value: `${method} ${route}` }, [endpointOfClient]: { value: endpoint } });
    return Object.freeze(client);
  }

  async start(signal: AbortSignal): Promise<void> {
    // Schemas are compiled before the first call, so no call waits for it.
    for (const { method, route, input, output } of this.#endpoints) {
      try {
        await input?.compile();
      } catch (err) {
        throw errors.invalidInputSchema(this.id.value, method, route, messageOf(err), err);
      }
      try {
        await output?.compile();
      } catch (err) {
        throw errors.invalidOutputSchema(this.id.value, method, route, messageOf(err), err);
      }
    }
    await componentPlatform(this.app).serve(this, signal);
  }
}

brand(ApiServer, 'ApiServer');
