/**
 * The project's plop generators (loaded by the root plopfile.js):
 *
 *   npx plop component [<kind> [<name> [<uses>]]] [-- --uses <names>] [--dry-run]
 *   npx plop registry [--dry-run]
 *   npx plop component --help                          (or `-- --help`; also for registry)
 *
 * They write into the starter app, or into the app folder given with plop's `--dest`. plop hands
 * the answers on the command line to their prompts; what it leaves (--help, --dry-run before `--`,
 * the check of what follows `--`) is read here, once, when plop loads the plopfile.
 */
import { join, resolve } from 'node:path';
import type { NodePlopAPI } from 'node-plop';
import { checkGeneratorArguments, readCommandLine } from './command-line.ts';
import { componentGenerator } from './component.ts';
import { GENERATOR_HELP } from './help.ts';
import { registerUsesPrompt, type GeneratorOptions } from './prompts.ts';
import { registryGenerator } from './registry.ts';

/** What plop passes to the plopfile (its CLI gives destBasePath and force); a test may set the rest. */
export interface PlopfileConfig {
  destBasePath?: string;
  force?: boolean;
  /** The command line (default: process.argv without node and plop's script). */
  argv?: readonly string[];
  /** Whether questions may be asked (default: stdin is a terminal). */
  interactive?: boolean;
  env?: NodeJS.ProcessEnv;
}

export const repoRoot = resolve(import.meta.dirname, '..');

export default function generators(plop: NodePlopAPI, config: PlopfileConfig = {}): void {
  const names = Object.keys(GENERATOR_HELP);
  const line = readCommandLine(config.argv ?? process.argv.slice(2), names, config.env ?? process.env);
  const options: GeneratorOptions = {
    repoRoot,
    appDir: config.destBasePath ? resolve(config.destBasePath) : join(repoRoot, 'starter'),
    interactive: config.interactive ?? process.stdin.isTTY === true,
    dryRun: line.dryRun,
  };
  plop.setWelcomeMessage('What do you want to make?');
  registerUsesPrompt(plop);
  componentGenerator(plop, options);
  registryGenerator(plop, options);

  if (line.generator === undefined) return;
  // The generator named prints its help, or says what is wrong with its command line, instead of
  // running. Its prompts become a function: plop then hands it no answers and checks nothing
  // (it would call `-- --help` "an invalid argument"), and prints what the function throws.
  const name = line.generator;
  const { description, prompts } = plop.getGenerator(name);
  let instead: () => void;
  try {
    const { help } = checkGeneratorArguments(line, { name, prompts: Array.isArray(prompts) ? prompts : [] });
    if (!help) return;
    instead = () => console.log(GENERATOR_HELP[name as keyof typeof GENERATOR_HELP]);
  } catch (err) {
    instead = () => {
      throw err;
    };
  }
  plop.setGenerator(name, {
    description,
    prompts: async () => {
      instead();
      return {};
    },
    actions: [],
  });
}
