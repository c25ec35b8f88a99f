/**
 * The project's plop generators (loaded by the root plopfile.js):
 *
 *   npx plop component [<kind> <name>] [-- --uses <names>] [--dry-run]
 *   npx plop registry [--dry-run]
 *   npx plop component --help                          (or `-- --help`; also for registry)
 *
 * They write into the starter app, or into the app folder given with plop's `--dest`.
 */
import { join, resolve } from 'node:path';
import type { NodePlopAPI } from 'node-plop';
import { componentGenerator, type GeneratorOptions } from './component.ts';
import { registryGenerator } from './registry.ts';
import { GENERATOR_HELP, helpRequested } from './cli-input.ts';

/** What plop passes to the plopfile (its CLI gives destBasePath and force); a test may set the rest. */
export interface PlopfileConfig {
  destBasePath?: string;
  force?: boolean;
  /** The command line to read answers from (default: process.argv). */
  argv?: readonly string[];
  /** Whether questions may be asked (default: stdin is a terminal). */
  interactive?: boolean;
  env?: NodeJS.ProcessEnv;
}

export const repoRoot = resolve(import.meta.dirname, '..');

export default function generators(plop: NodePlopAPI, config: PlopfileConfig = {}): void {
  const options: GeneratorOptions = {
    repoRoot,
    appDir: config.destBasePath ? resolve(config.destBasePath) : join(repoRoot, 'starter'),
    argv: config.argv ?? process.argv.slice(2),
    interactive: config.interactive ?? process.stdin.isTTY === true,
    env: config.env ?? process.env,
  };
  plop.setWelcomeMessage('What do you want to make?');
  componentGenerator(plop, options);
  registryGenerator(plop, options);
  // `npx plop component --help`: plop leaves options after a generator's name to the generator,
  // so the generator asked for prints its usage instead, asks nothing and writes nothing.
  for (const [name, help] of Object.entries(GENERATOR_HELP)) {
    if (!helpRequested(options.argv, name)) continue;
    plop.setGenerator(name, {
      description: plop.getGenerator(name).description,
      prompts: async () => {
        console.log(help);
        return {};
      },
      actions: [],
    });
  }
}
