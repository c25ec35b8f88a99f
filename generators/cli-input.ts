/**
 * The answers given on the command line, read the way plop reads them:
 *
 *   npx plop component <kind> <name> [<uses>]        positional, in prompt order; `_` means "ask"
 *   npx plop component -- --kind api --name orders-api --uses orders,customers
 *   npx plop component store orders --dry-run         (also after `--`, or PLOP_DRY_RUN=1)
 *   npx plop component --help                         (also after `--`): the usage, nothing written
 *
 * The generator's prompts are a function (so that nothing is asked once the kind and name are
 * given), and plop passes a function no bypass data: this module parses process.argv itself.
 */
import { parseArgs } from 'node:util';
import { errors } from './errors.ts';
import type { Kind } from './names.ts';

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
  help: { type: 'boolean', short: 'h' },
} as const;

const kindLines: Record<Kind, string> = {
  store: 'a Store: key-value records, in memory by `npm start`, its own PostgreSQL deployed',
  api: 'an ApiServer with typed endpoints other components call',
  task: 'an onDeploy task, run once per deployment',
  worker: 'a Worker, a long-running process',
};

/** What `npx plop <generator> --help` prints. */
export const GENERATOR_HELP: Readonly<Record<'component' | 'registry', string>> = {
  component: [
    'Usage: npx plop component [<kind> <name> [<uses>]] [-- --uses <name>[,<name>…]] [--dry-run]',
    '',
    'Scaffolds a component into starter/src/components/ (a module in the example\'s style and its test)',
    'and registers it (components.json, index.ts), so `npm start` and `npm run infra:build` pick it up.',
    'In a terminal it asks for what the command line does not give. Writes nothing if anything is wrong.',
    '',
    'Kinds:',
    ...Object.entries(kindLines).map(([kind, line]) => `  ${kind.padEnd(8)}${line}`),
    '',
    'Options (after `--`; --dry-run and --help also before it):',
    '  --kind <kind>             the kind, instead of the first argument',
    '  --name <name>             the name (kebab-case), instead of the second argument',
    '  --uses <name>[,<name>…]   what it may use: generated stores and APIs, and what main.ts provides',
    '                            (customer-server); instead of the third argument',
    '  --dry-run                 print what it would write, write nothing (also PLOP_DRY_RUN=1)',
    '  -h, --help                print this help, write nothing',
    '  --dest <folder>           (plop\'s, before `--`) the app to write into; default starter/',
    '',
    'Examples:',
    '  npx plop component                                  ask for everything',
    '  npx plop component store orders',
    '  npx plop component api orders-api -- --uses orders',
    '  npx plop component task seed-customers -- --uses customer-server',
    '  npx plop component worker order-mailer --dry-run',
    '',
    'After removing a component by hand: npx plop registry',
  ].join('\n'),
  registry: [
    'Usage: npx plop registry [--dry-run]',
    '',
    'Regenerates starter/src/components/index.ts from components.json, e.g. after removing a',
    'component by hand (npx plop component does it on every run).',
    '',
    'Options:',
    '  --dry-run    print what it would change, write nothing (also PLOP_DRY_RUN=1)',
    '  -h, --help   print this help, write nothing',
    '',
    'Examples:',
    '  npx plop registry',
    '  npx plop registry --dry-run',
  ].join('\n'),
};

const skip = (value: string | undefined) => (value === undefined || /^_+$/.test(value) ? undefined : value);

function splitUses(values: readonly string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

/**
 * Whether `args` (process.argv without node and the script) ask for `generator`'s help:
 * `--help` or `-h` before or after `--`. plop shows its own help only when no generator is
 * named, and leaves the rest of the command line to the generator.
 */
export function helpRequested(args: readonly string[], generator: string): boolean {
  const end = args.indexOf('--');
  const head = parseArgs({ args: end === -1 ? [...args] : args.slice(0, end), options: { ...plopOptions, ...generatorOptions }, strict: false, allowPositionals: true });
  if (head.positionals[0] !== generator) return false;
  const tail = parseArgs({ args: end === -1 ? [] : args.slice(end + 1), options: generatorOptions, strict: false, allowPositionals: true });
  return head.values.help === true || tail.values.help === true;
}

/**
 * Reads `args` (process.argv without node and the script) for `generator`. Throws for an
 * option that neither plop nor the generator knows, or more positional answers than prompts.
 */
export function readCommandLine(args: readonly string[], generator: string, env: NodeJS.ProcessEnv = process.env): CommandLineAnswers {
  const end = args.indexOf('--');
  const before = end === -1 ? [...args] : args.slice(0, end);
  const after = end === -1 ? [] : args.slice(end + 1);

  const head = parseArgs({ args: before, options: { ...plopOptions, ...generatorOptions }, strict: false, allowPositionals: true });
  const unknownHead = Object.keys(head.values).find((k) => !(k in plopOptions) && !(k in generatorOptions));
  if (unknownHead) throw errors.unknownOption(unknownHead, Object.keys(generatorOptions));
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
