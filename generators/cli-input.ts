/**
 * The answers given on the command line, read the way plop reads them:
 *
 *   npx plop component <kind> <name> [<uses>]        positional, in prompt order; `_` means "ask"
 *   npx plop component -- --kind api --name orders-api --uses orders,customers
 *   npx plop component store orders --dry-run         (also after `--`, or PLOP_DRY_RUN=1)
 *
 * The generator's prompts are a function (so that nothing is asked once the kind and name are
 * given), and plop passes a function no bypass data: this module parses process.argv itself.
 */
import { parseArgs } from 'node:util';
import { errors } from './errors.ts';

export interface CommandLineAnswers {
  kind?: string;
  name?: string;
  /** undefined: not given; [] when given empty (`--uses ''`). */
  uses?: string[];
  dryRun: boolean;
}

/** plop's own options (bin/plop.js, src/args.js), so their values are not taken for answers. */
const plopOptions = {
  cwd: { type: 'string' },
  preload: { type: 'string', multiple: true },
  plopfile: { type: 'string' },
  completion: { type: 'string' },
  dest: { type: 'string' },
  progress: { type: 'boolean' },
  force: { type: 'boolean', short: 'f' },
  'show-type-names': { type: 'boolean', short: 't' },
  help: { type: 'boolean', short: 'h' },
  init: { type: 'boolean', short: 'i' },
  'init-ts': { type: 'boolean' },
  version: { type: 'boolean', short: 'v' },
} as const;

const generatorOptions = {
  kind: { type: 'string' },
  name: { type: 'string' },
  uses: { type: 'string', multiple: true },
  'dry-run': { type: 'boolean' },
} as const;

const skip = (value: string | undefined) => (value === undefined || /^_+$/.test(value) ? undefined : value);

function splitUses(values: readonly string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

/**
 * Reads `args` (process.argv without node and the script) for `generator`. Throws for an
 * unknown option after `--` or more positional answers than prompts.
 */
export function readCommandLine(args: readonly string[], generator: string, env: NodeJS.ProcessEnv = process.env): CommandLineAnswers {
  const end = args.indexOf('--');
  const before = end === -1 ? [...args] : args.slice(0, end);
  const after = end === -1 ? [] : args.slice(end + 1);

  const head = parseArgs({ args: before, options: { ...plopOptions, ...generatorOptions }, strict: false, allowPositionals: true });
  const positionals = head.positionals[0] === generator ? head.positionals.slice(1) : [];
  if (positionals.length > 3) throw errors.tooManyArguments(positionals.slice(3));

  const tail = parseArgs({ args: after, options: generatorOptions, strict: false, allowPositionals: true });
  const unknown = Object.keys(tail.values).find((k) => !(k in generatorOptions));
  if (unknown) throw errors.unknownOption(unknown, Object.keys(generatorOptions));
  if (tail.positionals.length) throw errors.tooManyArguments(tail.positionals);

  const value = (key: 'kind' | 'name') => skip(tail.values[key] as string | undefined) ?? skip(head.values[key] as string | undefined);
  const usesPositional = skip(positionals[2]);
  const uses =
    splitUses(tail.values.uses as string[] | undefined) ??
    splitUses(head.values.uses as string[] | undefined) ??
    (usesPositional === undefined ? undefined : splitUses([usesPositional]));
  const dryRunEnv = env.PLOP_DRY_RUN !== undefined && !['', '0', 'false', 'no'].includes(env.PLOP_DRY_RUN.toLowerCase());
  return {
    kind: value('kind') ?? skip(positionals[0]),
    name: value('name') ?? skip(positionals[1]),
    uses,
    dryRun: tail.values['dry-run'] === true || head.values['dry-run'] === true || dryRunEnv,
  };
}
