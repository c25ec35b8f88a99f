/**
 * The platform of the build and of the local runner: they run the app's startup like every
 * persona, then read values only. Stores and endpoints are runtime calls (they check first).
 */
import type { ComponentPlatform } from '../components/platform.ts';
import type { BuildTimeValue } from '../values/build-time-value.ts';
import type { ValueFile } from '../values/value-file.ts';
import { errors } from '../core/errors.ts';

export class BuildPlatform implements ComponentPlatform {
  readonly mode = 'deployed';
  readonly codeOutsidePersonas = 'allowed';
  readonly #file: ValueFile;
  constructor(file: ValueFile) {
    this.#file = file;
  }
  storeBackend(): never {
    throw errors.wrongPhase('Store', 'a store call', ['runtime'], 'build');
  }
  topicBackend(): never {
    throw errors.wrongPhase('Topic', 'a topic call', ['runtime'], 'build');
  }
  call(): never {
    throw errors.wrongPhase('ApiServer', 'an endpoint call', ['runtime'], 'build');
  }
  serve(): never {
    throw errors.wrongPhase('ApiServer', 'serving', ['runtime'], 'build');
  }
  value<T>(value: BuildTimeValue<any>): T {
    return this.#file.get(value.id.value) as T;
  }
  async close(): Promise<void> {}
}
