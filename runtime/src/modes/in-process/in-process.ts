/**
 * The one-process mode: every persona in this process, Stores in memory, endpoint calls as
 * function calls through a JSON round trip. Breakpoints step from a client into a handler.
 */
import type { Context } from '@opentelemetry/api';
import { existsSync } from 'node:fs';
import type { App } from '../../core/app.ts';
import type { ComponentPlatform } from '../../components/platform.ts';
import type { Store } from '../../components/store/store.ts';
import type { StoreBackend } from '../../components/store/backend.ts';
import { MemoryStoreBackend } from '../../components/store/memory.ts';
import type { Topic } from '../../components/topic/topic.ts';
import type { TopicBackend } from '../../components/topic/backend.ts';
import { MemoryTopicBackend } from '../../components/topic/memory.ts';
import {
  MAX_ARGUMENT_BYTES,
  argumentTooLargeProblem,
  errorBody,
  exceedsBytes,
  invokeEndpoint,
  resultValue,
  type Endpoint,
  type EndpointResult,
  type InvokeOptions,
} from '../../components/api/endpoint.ts';
import type { ApiServer } from '../../components/api/server.ts';
import type { BuildTimeValue } from '../../values/build-time-value.ts';
import { damagedValue, ValueFile } from '../../values/value-file.ts';
import type { Json } from '../../core/json.ts';
import type { Logger } from '../../core/logger.ts';
import { runPersonas } from '../run-personas.ts';

export interface InProcessOptions {
  valueFile?: string;
  log: Logger;
  /** `allowed` for a test harness, which acts as no persona on purpose; `npm start` refuses. */
  codeOutsidePersonas?: 'allowed' | 'refused';
}

export class InProcessPlatform implements ComponentPlatform {
  readonly mode = 'in-process';
  readonly codeOutsidePersonas: 'allowed' | 'refused';
  readonly #backends = new Map<Store<any>, StoreBackend>();
  readonly #topics = new Map<Topic<any>, TopicBackend>();
  readonly #values = new Map<string, Json>();
  readonly #file: ValueFile | undefined;
  readonly #log: Logger;
  /** Each serving ApiServer's stop signal, which its handlers' signals follow. */
  readonly #stopping = new Map<ApiServer, AbortSignal>();
  readonly #invoke: Omit<InvokeOptions, 'signal'>;

  constructor(options: InProcessOptions) {
    this.codeOutsidePersonas = options.codeOutsidePersonas ?? 'refused';
    // Use the build's values when there is a build, so both modes agree; never write them here.
    this.#file = options.valueFile && existsSync(options.valueFile) ? ValueFile.load(options.valueFile) : undefined;
    this.#log = options.log;
    this.#invoke = {
      log: (message, err) => this.#log.error(message, err),
      note: (message) => this.#log.info(message),
    };
  }

  storeBackend(store: Store<any>): StoreBackend {
    let backend = this.#backends.get(store);
    if (!backend) this.#backends.set(store, (backend = new MemoryStoreBackend(store.indexes)));
    return backend;
  }

  topicBackend(topic: Topic<any>): TopicBackend {
    let backend = this.#topics.get(topic);
    if (!backend)
      this.#topics.set(topic, (backend = new MemoryTopicBackend(topic.subscriptions.map((s) => s.queue.queue))));
    return backend;
  }

  async call(endpoint: Endpoint, argText: string | undefined, traced?: Context): Promise<unknown> {
    return resultValue(endpoint, await this.answer(endpoint, argText, traced));
  }

  /**
   * What `endpoint` answers `argText` (JSON text, or undefined for no argument): a status and
   * JSON text. `traced`: the caller's, which the server's span continues (the active one if not given).
   */
  async answer(endpoint: Endpoint, argText: string | undefined, traced?: Context): Promise<EndpointResult> {
    // The HTTP server's body limit, so an argument refused deployed is refused here too.
    if (argText !== undefined && exceedsBytes(argText, MAX_ARGUMENT_BYTES)) {
      const problem = argumentTooLargeProblem(endpoint, MAX_ARGUMENT_BYTES);
      return { status: 413, body: errorBody(413, `ApiServer ${endpoint.server.id.value}: ${problem}`) };
    }
    const arg = argText === undefined ? undefined : JSON.parse(argText);
    const signal = this.#stopping.get(endpoint.server);
    return invokeEndpoint(endpoint, arg, signal ? { ...this.#invoke, signal } : this.#invoke, undefined, traced);
  }

  async serve(server: ApiServer, signal: AbortSignal): Promise<void> {
    this.#stopping.set(server, signal);
  }

  value<T>(value: BuildTimeValue<any>): T {
    const id = value.id.value;
    let v = this.#values.get(id) ?? this.#file?.get(id);
    // A damaged kept value stops this mode as it stops the build, rather than being replaced here.
    if (v !== undefined && !value.accepts(v)) throw damagedValue(value, v, this.#file!.path);
    v ??= value.generate({ taken: [] }) as Json;
    this.#values.set(id, v);
    return v as T;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#backends.values(), ...this.#topics.values()].map((b) => b.close()));
  }
}

/** Runs every persona of `app` in this process; resolves to the exit code. */
export async function runInProcess(app: App, options: { valueFile?: string; log: Logger }): Promise<number> {
  const platform = new InProcessPlatform(options);
  app.enter('runtime', platform);
  try {
    return await runPersonas(app, app.personas, options.log);
  } finally {
    await platform.close();
  }
}
