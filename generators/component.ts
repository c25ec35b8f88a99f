/**
 * The `component` generator: scaffolds a store, api, task or worker into the app, with its
 * test, and regenerates the registry that main.ts calls.
 *
 * Its prompts are plop's, in the order the command line answers them by position: kind (a list),
 * name (an input, asked again while it is wrong), uses (a checkbox, asked only when there is
 * something to use) and dry-run (never asked: `-- --dry-run`). plop fills what the command line
 * gives and asks the rest in a terminal; without one, nothing is asked and a missing kind or name
 * stops the actions. The write is one planned, all-or-nothing action: plop's `abortOnFail` stops
 * the actions after a failure but takes back none of the files the earlier ones wrote.
 */
import type { NodePlopAPI } from 'node-plop';
import { join, relative } from 'node:path';
import { readAppState, type AppState } from './app-state.ts';
import { errors, GeneratorError } from './errors.ts';
import { kindLines } from './help.ts';
import { isKind, kinds, type Kind } from './names.ts';
import { nameProblems, planComponent, usableComponents, type Plan } from './plan.ts';
import { askedIn, dryRunPrompt, isDryRun, USES_PROMPT, type GeneratorOptions, type Prompt } from './prompts.ts';
import { writePlan } from './write-plan.ts';
import { formatPlan } from './format.ts';

/** The answers so far, as inquirer passes them to a prompt's functions. */
type Answers = Record<string, any>;

export interface ComponentAnswers {
  kind: Kind;
  name: string;
  /** Absent when not asked (a store, nothing to use, no terminal) and not given. */
  uses?: string[];
  /** `-- --dry-run`. */
  'dry-run'?: boolean;
}

const kindChoices = Object.entries(kindLines).map(([kind, line]) => ({
  value: kind,
  short: kind,
  name: `${kind.padEnd(8)}${line}`,
}));

const exampleNames: Record<Kind, string> = {
  store: 'orders',
  api: 'orders-api',
  task: 'seed-orders',
  worker: 'order-mailer',
  topic: 'order-placed',
  cron: 'nightly-cleanup',
};

/** What a new component may use, for the checkbox: the APIs main.ts provides, then the generated stores and APIs. */
export function usesChoices(state: AppState, name: string): { value: string; name: string; short: string }[] {
  return usableComponents(state, name).map((c) => ({
    value: c.name,
    name: `${c.name} (${c.kind}${c.provided ? ', from main.ts' : ''})`,
    short: c.name,
  }));
}

/**
 * An answer from the command line, as the prompt's `bypass` hands it on: node-plop's bypass calls
 * `validate` and `filter` with what `bypass` returns (inquirer calls them with what was typed), so
 * `validate` can refuse a given answer as the planner does ("Nothing was written…") and word a
 * typed one for asking again; `filter` unwraps it for the answers.
 */
interface Given {
  given: string;
}
const given = (value: string): Given => ({ given: value });
const isGiven = (value: unknown): value is Given => typeof value === 'object' && value !== null && 'given' in value;
const text = (value: unknown) => (isGiven(value) ? value.given : value);

/** The app as it is now, or the error that says what is wrong with its components.json. */
function appState(options: GeneratorOptions): AppState | GeneratorError {
  try {
    return readAppState(options.appDir);
  } catch (err) {
    if (err instanceof GeneratorError) return err;
    throw err;
  }
}

/** The component generator's prompts, in the order of its positional answers. */
export function componentPrompts(options: GeneratorOptions): Prompt[] {
  const asked = askedIn(options);
  return [
    {
      type: 'list',
      name: 'kind',
      message: 'What kind of component?',
      help: `the kind: ${kinds.join(', ')}`,
      choices: kindChoices,
      // As given: plop's own list bypass would refuse an unknown kind with its own words.
      bypass: (value: string) => value,
      // Only for a given kind (a list validates nothing it offers).
      validate: (value: unknown) =>
        isKind(value) ||
        errors.invalid([`the kind must be one of ${kinds.join(', ')}, not ${JSON.stringify(value)}`]).message,
      ...asked,
    },
    {
      type: 'input',
      name: 'name',
      message: (answers: Answers) =>
        `Name of the ${answers.kind} (kebab-case, e.g. ${exampleNames[answers.kind as Kind]}):`,
      help: 'the name (kebab-case)',
      bypass: given,
      filter: text,
      validate: (value: unknown, answers?: Answers) => {
        const state = appState(options);
        if (state instanceof GeneratorError) return state.message;
        const problems = nameProblems(isKind(answers?.kind) ? answers.kind : undefined, text(value), state, options);
        if (!problems.length) return true;
        return isGiven(value) ? errors.invalid(problems).message : problems.join('; ');
      },
      ...asked,
    },
    {
      type: USES_PROMPT,
      name: 'uses',
      message: (answers: Answers) => `What does ${answers.name} use?`,
      help: 'what it may use: generated stores and APIs, and what main.ts provides (names separated by commas)',
      choices: (answers: Answers) => {
        if (answers.kind === 'store') return [];
        const state = appState(options);
        if (state instanceof GeneratorError) throw state;
        return usesChoices(state, answers.name);
      },
      // `orders,orders-api` as given: the planner says what is wrong with a name.
      bypass: (value: string) =>
        value
          .split(',')
          .map((v) => v.trim())
          .filter((v) => v !== ''),
      ...asked,
    } as Prompt,
    dryRunPrompt,
  ];
}

/** The lines plop prints for a plan: each file and what happens to it. */
export function describePlan(plan: Plan, dryRun: boolean): string {
  const lines = plan.writes.map(
    (w) =>
      `${dryRun ? 'would ' : ''}${w.before === undefined ? 'create' : 'change'} ${relative(process.cwd(), w.path) || w.path}`,
  );
  if (dryRun) lines.push('dry run: nothing was written');
  if (!plan.writes.length) lines.push('nothing to change');
  return [...lines, ...plan.notes.map((n) => `note: ${n}`)].join('\n  ');
}

export function componentGenerator(plop: NodePlopAPI, options: GeneratorOptions): void {
  plop.setActionType('infra-component', async (answers, _config, api) => {
    const state = readAppState(options.appDir);
    const render = (template: string, data: unknown) => api.renderString(template, data);
    const input = { kind: answers.kind, name: answers.name, uses: answers.uses ?? [] };
    const plan = await formatPlan(
      planComponent(input, state, { repoRoot: options.repoRoot, render }),
      options.repoRoot,
    );
    const dryRun = isDryRun(answers, options);
    if (!dryRun) writePlan(plan.writes);
    return describePlan(plan, dryRun);
  });

  plop.setGenerator('component', {
    description: 'a store, api, task or worker, with its test, registered in the app',
    prompts: componentPrompts(options),
    actions: (data) => {
      const answers = (data ?? {}) as Partial<ComponentAnswers>;
      // Only without a terminal: a prompt that is asked is answered.
      const missing = (['kind', 'name'] as const).filter((key) => answers[key] === undefined);
      if (missing.length) throw errors.missingAnswers(missing);
      if (isDryRun(answers, options)) return [{ type: 'infra-component' }];
      const module = relative(process.cwd(), join(options.appDir, 'src', 'components', `${answers.name}.ts`));
      return [
        { type: 'infra-component' },
        `Next: edit ${module} and its test; \`npm test --workspace starter\`, \`npm start\`, then \`npm run infra:build\` and \`docker compose up --build\``,
      ];
    },
  });
}
