/**
 * The `component` generator: scaffolds a store, api, task or worker into the app, with its
 * test, and regenerates the registry that main.ts calls. Asks only for what the command line
 * did not give, and only in a terminal; the whole write is one planned, all-or-nothing action.
 */
import type { DynamicPromptsFunction, NodePlopAPI } from 'node-plop';
import { readCommandLine } from './cli-input.ts';
import { readAppState, type AppState } from './app-state.ts';
import { errors } from './errors.ts';
import { isKind, kinds, type Kind } from './names.ts';
import { nameProblems, planComponent, usableComponents, type Plan } from './plan.ts';
import { writePlan } from './write-plan.ts';
import { join, relative } from 'node:path';

export interface GeneratorOptions {
  /** The repository root (templates/, runtime/). */
  repoRoot: string;
  /** The app written into, e.g. starter/. */
  appDir: string;
  /** The command line (process.argv without node and the script). */
  argv: readonly string[];
  /** Whether questions may be asked (a terminal on stdin). */
  interactive: boolean;
  env: NodeJS.ProcessEnv;
}

export interface ComponentAnswers {
  kind: Kind;
  name: string;
  uses: string[];
  dryRun: boolean;
}

const kindChoices: { value: Kind; short: string; name: string }[] = [
  { value: 'store', short: 'store', name: 'store   a Store: key-value records, in memory by `npm start`, its own PostgreSQL deployed' },
  { value: 'api', short: 'api', name: 'api     an ApiServer with typed endpoints other components call' },
  { value: 'task', short: 'task', name: 'task    an onDeploy task, run once per deployment' },
  { value: 'worker', short: 'worker', name: 'worker  a Worker, a long-running process' },
];

const exampleNames: Record<Kind, string> = { store: 'orders', api: 'orders-api', task: 'seed-orders', worker: 'order-mailer' };

type Inquirer = Parameters<DynamicPromptsFunction>[0];

/** The checkbox of what a new component may use: the APIs main.ts provides first, then the generated stores and APIs. */
export function usesChoices(state: AppState, name: string): { value: string; name: string; short: string }[] {
  return usableComponents(state, name).map((c) => ({ value: c.name, name: `${c.name} (${c.kind}${c.provided ? ', from main.ts' : ''})`, short: c.name }));
}

async function ask(inquirer: Inquirer, options: GeneratorOptions): Promise<ComponentAnswers> {
  const given = readCommandLine(options.argv, 'component', options.env);
  const missing = [given.kind === undefined ? 'kind' : '', given.name === undefined ? 'name' : ''].filter(Boolean);
  if (missing.length && !options.interactive) throw errors.missingAnswers(missing);
  const state = readAppState(options.appDir);

  let kind = given.kind;
  if (kind === undefined) {
    ({ kind } = await inquirer.prompt<{ kind: Kind }>([{ type: 'list', name: 'kind', message: 'What kind of component?', choices: kindChoices }]));
  } else if (!isKind(kind)) {
    throw errors.invalid([`the kind must be one of ${kinds.join(', ')}, not ${JSON.stringify(kind)}`]);
  }
  const k = kind as Kind;

  let name = given.name;
  if (name === undefined) {
    ({ name } = await inquirer.prompt<{ name: string }>([
      {
        type: 'input',
        name: 'name',
        message: `Name of the ${k} (kebab-case, e.g. ${exampleNames[k]}):`,
        validate: (value: string) => {
          const problems = nameProblems(k, value, state, options);
          return problems.length ? problems.join('; ') : true;
        },
      },
    ]));
  } else {
    const problems = nameProblems(k, name, state, options);
    if (problems.length) throw errors.invalid(problems);
  }

  let uses = given.uses;
  const usable = k === 'store' ? [] : usesChoices(state, name!);
  if (uses === undefined && given.name === undefined && usable.length && options.interactive) {
    ({ uses } = await inquirer.prompt<{ uses: string[] }>([
      {
        type: 'checkbox',
        name: 'uses',
        message: `What does ${name} use?`,
        choices: usable,
      },
    ]));
  }
  return { kind: k, name: name!, uses: uses ?? [], dryRun: given.dryRun };
}

/** The lines plop prints for a plan: each file and what happens to it. */
export function describePlan(plan: Plan, dryRun: boolean): string {
  const lines = plan.writes.map((w) => `${dryRun ? 'would ' : ''}${w.before === undefined ? 'create' : 'change'} ${relative(process.cwd(), w.path) || w.path}`);
  if (dryRun) lines.push('dry run: nothing was written');
  if (!plan.writes.length) lines.push('nothing to change');
  return [...lines, ...plan.notes.map((n) => `note: ${n}`)].join('\n  ');
}

export function componentGenerator(plop: NodePlopAPI, options: GeneratorOptions): void {
  plop.setActionType('infra-component', async (answers, _config, api) => {
    const state = readAppState(options.appDir);
    const render = (template: string, data: unknown) => api.renderString(template, data);
    const plan = planComponent({ kind: answers.kind, name: answers.name, uses: answers.uses }, state, { repoRoot: options.repoRoot, render });
    if (!answers.dryRun) writePlan(plan.writes);
    return describePlan(plan, answers.dryRun === true);
  });

  plop.setGenerator('component', {
    description: 'a store, api, task or worker, with its test, registered in the app',
    prompts: (inquirer) => ask(inquirer, options),
    actions: (data) => {
      const answers = data as ComponentAnswers;
      if (answers?.dryRun) return [{ type: 'infra-component' }];
      const module = relative(process.cwd(), join(options.appDir, 'src', 'components', `${answers.name}.ts`));
      return [
        { type: 'infra-component' },
        `Next: edit ${module} and its test; \`npm test --workspace starter\`, \`npm start\`, then \`npm run infra:build\` and \`docker compose up --build\``,
      ];
    },
  });
}
