/** Which deployment the build writes files for: `--target compose` (the default) or `--target kubernetes`. */
import { errors } from '../errors.ts';

export const TARGETS = ['compose', 'kubernetes'] as const;
export type Target = (typeof TARGETS)[number];

/** The target named by `--target NAME` or `--target=NAME` in the build's arguments. */
export function buildTarget(args: readonly string[]): Target {
  let named: string | undefined;
  args.forEach((arg, i) => {
    if (arg === '--target') named = args[i + 1] ?? '';
    else if (arg.startsWith('--target=')) named = arg.slice('--target='.length);
  });
  if (named === undefined) return 'compose';
  if (!(TARGETS as readonly string[]).includes(named)) throw errors.unknownTarget(named, TARGETS);
  return named as Target;
}
