/**
 * The build persona: runs the app's startup like every persona, then, instead of running
 * anything, resolves the build-time values and writes the deployment files.
 */
import type { RunContext } from '../persona.ts';
import type { Platform } from '../platform.ts';
import { ValueFile } from '../secrets/value-file.ts';
import { valueFilePath } from '../paths.ts';
import type { BuildTimeValue } from '../secrets/build-time-value.ts';
import { errors } from '../errors.ts';
import { describeTree } from './tree.ts';

/** At build time only values exist; stores and endpoints are runtime calls (they check first). */
class BuildPlatform implements Platform {
  readonly mode = 'deployed';
  readonly #file: ValueFile;
  constructor(file: ValueFile) {
    this.#file = file;
  }
  storeBackend(): never {
    throw errors.wrongPhase('Store', 'a store call', ['runtime'], 'build');
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

export async function runBuild(context: RunContext): Promise<number> {
  const { app, paths, log } = context;
  const file = ValueFile.load(valueFilePath(paths.buildDir));
  app.enter('build', new BuildPlatform(file));
  const made = file.resolve(app);
  file.save();
  log.info(`Component tree of ${app.root.value}:\n${describeTree(app)}`);
  log.info(`${made.length ? `Made ${made.length} new value(s); kept` : 'Kept'} ${file.ids.length - made.length} in ${file.path} (mode 0600)`);
  return 0;
}
