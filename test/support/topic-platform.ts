/** A platform reduced to what Topics need: each topic's backend from `make`. */
import type { Topic } from 'infra-generator';
import type { Platform } from 'infra-generator/internal/core/platform';
import type { TopicBackend } from 'infra-generator/internal/components/topic/backend';

export class TopicPlatform implements Platform {
  readonly mode = 'deployed';
  /** The Topic tests publish as no persona, unless they run code as one (runAs). */
  readonly codeOutsidePersonas = 'allowed';
  readonly #backends = new Map<Topic<any>, TopicBackend>();
  readonly #make: (topic: Topic<any>) => TopicBackend;

  constructor(make: (topic: Topic<any>) => TopicBackend) {
    this.#make = make;
  }

  topicBackend(topic: Topic<any>): TopicBackend {
    let backend = this.#backends.get(topic);
    if (!backend) this.#backends.set(topic, (backend = this.#make(topic)));
    return backend;
  }

  storeBackend(): never {
    throw new Error('the Topic tests use no Store');
  }

  call(): Promise<unknown> {
    throw new Error('the Topic tests make no API calls');
  }

  serve(): Promise<void> {
    throw new Error('the Topic tests serve no API');
  }

  value<T>(): T {
    throw new Error('the Topic tests read no build-time value');
  }

  async close(): Promise<void> {
    await Promise.all([...this.#backends.values()].map((b) => b.close()));
  }
}
