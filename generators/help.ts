/**
 * What `npx plop <generator> --help` prints (plop shows its own help only when no generator is
 * named, so the generators print theirs: see index.ts).
 */
import type { Kind } from './names.ts';

/** Each kind in a line, for the help and the kind prompt's list. */
export const kindLines: Readonly<Record<Kind, string>> = {
  store: 'a Store: key-value records, in memory by `npm start`, its own PostgreSQL deployed',
  api: 'an ApiServer with typed endpoints other components call',
  task: 'an onDeploy task, run once per deployment',
  worker: 'a Worker, a long-running process',
  topic: 'a Topic and a Subscription that handles its messages (retried, dead letters kept)',
  cron: 'a Cron: a function run on a schedule, once per tick whatever the replicas',
};

export const GENERATOR_HELP: Readonly<Record<'component' | 'registry', string>> = {
  component: [
    'Usage: npx plop component [<kind> [<name> [<uses>]]] [-- --uses <name>[,<name>…]] [--dry-run]',
    '',
    "Scaffolds a component into starter/src/components/ (a module in the example's style and its test)",
    'and registers it (components.json, index.ts), so `npm start` and `npm run infra:build` pick it up.',
    'In a terminal it asks for what the command line does not give (`_` for an answer: ask it).',
    'Writes nothing if anything is wrong.',
    '',
    'Kinds:',
    ...Object.entries(kindLines).map(([kind, line]) => `  ${kind.padEnd(8)}${line}`),
    '',
    'Options (after `--`, answers by name; --dry-run and --help also before it):',
    '  --kind <kind>             the kind, instead of the first argument',
    '  --name <name>             the name (kebab-case), instead of the second argument',
    '  --uses <name>[,<name>…]   what it may use: generated stores and APIs, and what main.ts provides',
    "                            (customer-server); instead of the third argument ('' for nothing)",
    '  --dry-run                 print what it would write, write nothing (also PLOP_DRY_RUN=1)',
    '  -h, --help                print this help, write nothing',
    "  --dest <folder>           (plop's, before `--`) the app to write into; default starter/",
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
