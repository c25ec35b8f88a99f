/** A deployed-mode platform reduced to what a Store needs: each store's backend from `make`. */
import type { Store } from 'infra-generator';
import type { Platform } from 'infra-generator/internal/core/platform';
import type { StoreBackend } from 'infra-generator/internal/components/store/backend';

export class StorePlatform implements Platform {
  readonly mode = 'deployed';
  /** The Store tests call stores directly, as no persona. */
  readonly codeOutsidePersonas = 'allowed';
  readonly #backends = new Map<Store<any>, StoreBackend>();
  readonly #make: (store: Store<any>) => StoreBackend;

  constructor(make: (store: Store<any>) => StoreBackend) {
    this.#make = make;
  }

  storeBackend(store: Store<any>): StoreBackend {
    let backend = this.#backends.get(store);
    if (!backend) this.#backends.set(store, (backend = this.#make(store)));
    return backend;
  }

  call(): Promise<unknown> {
    throw new Error('the Store tests make no API calls');
  }

  serve(): Promise<void> {
    throw new Error('the Store tests serve no API');
  }

  value<T>(): T {
    throw new Error('the Store tests read no build-time value');
  }

  async close(): Promise<void> {
    await Promise.all([...this.#backends.values()].map((b) => b.close()));
  }
}
