/**
 * Topic<T>: where one part of the app hands work to others. `publish()` resolves once the
 * message is durably stored (deployed: committed in the topic's PostgreSQL); each Subscription
 * of the topic then gets it (subscription.ts). In one process it lives in memory.
 */
import { randomUUID } from 'node:crypto';
import type { TSchema } from 'typebox';
import { brand, hasBrand } from '../../core/brands.ts';
import { Component } from '../../core/component.ts';
import type { ID } from '../../core/id.ts';
import { errors } from '../../core/errors.ts';
import { toJsonText } from '../../core/json.ts';
import { assertMayUseTopic, mayReachTopic } from '../../core/access.ts';
import { Persona } from '../../core/persona.ts';
import { Password } from '../../values/secret.ts';
import { componentPlatform } from '../platform.ts';
import { connectionCount, STORE_POOL } from '../connection-limits.ts';
import { ArgumentSchema, isSchemaLike } from '../api/argument-schema.ts';
import type { TopicBackend } from './backend.ts';
import { publishTelemetry } from './telemetry.ts';
import type { Subscription } from './subscription.ts';

/** The largest message, as JSON: a topic carries work to do, not bulk data (keep that in a Store). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

export interface TopicOptions {
  /**
   * A TypeBox type the messages must match, checked at publish time (in every mode), with the
   * words an endpoint's input schema uses for a bad argument.
   */
  schema?: TSchema;
  pool?: {
    /** The most connections the topic opens in each process that uses it, deployed (default 10). */
    max?: number;
  };
}

/** How a Subscription reaches its topic's backend: not a public property, so only subscriptions do. */
let backendOf: (topic: Topic<any>) => TopicBackend;

/** The backend of `topic` (for its Subscriptions). */
export const topicBackend = (topic: Topic<any>): TopicBackend => backendOf(topic);

export class Topic<T = any> extends Component {
  /** Whether `value` is a Topic (of any copy of this package). */
  static isTopic(value: unknown): value is Topic<any> {
    return hasBrand(value, 'Topic');
  }

  /** Its subscriptions, in creation order (each one gets every message published). */
  readonly subscriptions: Subscription<T>[] = [];
  /** The database password: readable only by its subscriptions and the personas that may publish to it. */
  readonly password: Password;
  readonly pool: { readonly max: number };
  readonly #schema: ArgumentSchema | undefined;
  #backend: TopicBackend | undefined;
  #traced: ReturnType<typeof publishTelemetry> | undefined;

  constructor(id: ID, options: TopicOptions = {}) {
    super(id, 'Topic');
    this.pool = Object.freeze({
      max: connectionCount(STORE_POOL, options.pool?.max, { kind: 'Topic', id: id.value }, 'pool.max'),
    });
    if (options.schema !== undefined && !isSchemaLike(options.schema)) throw errors.invalidTopicSchema(id.value);
    this.#schema = options.schema === undefined ? undefined : new ArgumentSchema(options.schema, 'the message');
    // Readers are decided at runtime, when the tree is whole: the personas that may reach the topic.
    this.password = new Password(id.child('password'), {
      readers: (persona) => {
        const component = this.app.find(persona);
        return Persona.isPersona(component) && mayReachTopic(component, this);
      },
    });
  }

  static {
    backendOf = (topic) => (topic.#backend ??= componentPlatform(topic.app).topicBackend(topic));
  }

  /**
   * Publishes `message` to every subscription; resolves to its ID once it is durably stored.
   * A message that is not JSON, too large, or fails the topic's schema is refused
   * (INFRA_INVALID_MESSAGE; an API whose handler publishes it answers 400).
   */
  async publish(message: T): Promise<string> {
    this.assertPhase('publish()', 'runtime');
    assertMayUseTopic(this, 'publish()', true);
    const id = this.id.value;
    const text = toJsonText(message, `Topic ${id}`, 'the message', id);
    if (text === undefined) throw errors.invalidMessage(id, 'the message is undefined; publish a JSON value');
    const bytes = Buffer.byteLength(text);
    if (bytes > MAX_MESSAGE_BYTES)
      throw errors.invalidMessage(
        id,
        `it is ${bytes} bytes as JSON, more than the ${MAX_MESSAGE_BYTES} a message may have; keep bulk data in a Store and publish its key`,
      );
    const schema = this.#schema;
    if (schema !== undefined) {
      const problem = (schema.check ?? (await schema.compile()))(JSON.parse(text));
      if (problem !== undefined) throw errors.invalidMessage(id, problem);
    }
    const messageId = randomUUID();
    const backend = backendOf(this);
    const traced = (this.#traced ??= publishTelemetry(id, backend.messagingSystem));
    // In a publish span, whose context travels with the message: its handlers' spans are beneath it.
    await traced({ id: messageId, bytes }, (trace) =>
      backend.publish({ id: messageId, text, publishedAt: Date.now(), trace }),
    );
    return messageId;
  }

  override freeze(): void {
    Object.freeze(this.subscriptions);
    super.freeze();
  }

  override fingerprintLines(): string[] {
    return this.#schema ? [`${this.id.value} schema ${JSON.stringify(this.#schema.schema)}`] : [];
  }
}

brand(Topic, 'Topic');
