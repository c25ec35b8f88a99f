/**
 * The build persona's command line (`npm run infra:build -- …`), read with Node's parseArgs in
 * strict mode, so a mistyped option stops the build instead of being quietly ignored.
 */
import { parseArgs } from 'node:util';
import { errors } from '../errors.ts';
import { TARGETS, type Target } from './target.ts';

export interface BuildArgs {
  readonly target: Target;
  /** `--bind-store STORE_ID=URL|env:NAME`, each as given. */
  readonly bindStore: readonly string[];
  /** `--unbind-store STORE_ID`, each as given. */
  readonly unbindStore: readonly string[];
  /** `--prune` (what `npm run infra:prune` passes) and its `--yes`. */
  readonly prune: boolean;
  readonly yes: boolean;
  /** `--help`: print BUILD_USAGE and build nothing. */
  readonly help: boolean;
}

export const BUILD_USAGE =
  'npm run infra:build -- [--target compose|kubernetes] [--bind-store STORE_ID=URL|env:VARIABLE]… [--unbind-store STORE_ID]…; npm run infra:prune -- [--yes]';

export function parseBuildArgs(args: readonly string[]): BuildArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        target: { type: 'string' },
        'bind-store': { type: 'string', multiple: true },
        'unbind-store': { type: 'string', multiple: true },
        prune: { type: 'boolean' },
        yes: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw errors.buildArguments((err as Error).message, BUILD_USAGE);
  }
  const target = values.target ?? 'compose';
  if (!(TARGETS as readonly string[]).includes(target)) throw errors.unknownTarget(target, TARGETS);
  return {
    target: target as Target,
    bindStore: values['bind-store'] ?? [],
    unbindStore: values['unbind-store'] ?? [],
    prune: values.prune ?? false,
    yes: values.yes ?? false,
    help: values.help ?? false,
  };
}
