/**
 * What the generators' prompts share: the shape plop takes (inquirer's questions, plus plop's
 * `bypass` and `help`), the `dry-run` prompt, and the `infra-uses` prompt type.
 */
import type { NodePlopAPI, PromptQuestion } from 'node-plop';

/**
 * A prompt as plop takes it. plop answers it from the command line (by position, or by name after
 * `--`) with its `bypass` function when it has one (node-plop's prompt-bypass.js), then calls
 * `validate` on that and keeps what `filter` returns; `help` is what plop lists for `--<name>`.
 */
export type Prompt = PromptQuestion & {
  bypass?: (value: string, prompt: Prompt) => unknown;
  help?: string;
};

/** Settings that a generator's prompts need from the command line's context. */
export interface GeneratorOptions {
  /** The repository root (templates/, runtime/). */
  repoRoot: string;
  /** The app written into, e.g. starter/. */
  appDir: string;
  /** Whether questions may be asked (a terminal on stdin). */
  interactive: boolean;
  /** `--dry-run` before `--`, or PLOP_DRY_RUN (after `--` it is the `dry-run` prompt's answer). */
  dryRun: boolean;
}

/**
 * Without a terminal nothing is asked: a prompt is off (`when: false`), which plop still answers
 * from the command line (a `when` function would stop that: "You can not bypass conditional
 * prompts"). What is then missing is refused by the generator's actions.
 */
export const askedIn = (options: GeneratorOptions): { when?: false } => (options.interactive ? {} : { when: false });

/**
 * `--dry-run` after `--`: plop takes an option there only as a prompt's name, so this is a prompt
 * that is never asked, answered only from the command line (`true`).
 */
export const dryRunPrompt: Prompt = {
  type: 'confirm',
  name: 'dry-run',
  message: 'Only print what it would write?',
  help: 'print what it would write, write nothing (also before `--`, or PLOP_DRY_RUN=1)',
  default: false,
  when: false,
};

/** Whether this run only plans: `--dry-run` before or after `--`, or PLOP_DRY_RUN. */
export const isDryRun = (answers: Record<string, unknown> | undefined, options: GeneratorOptions): boolean =>
  answers?.['dry-run'] === true || options.dryRun;

type PromptConstructor = Parameters<NodePlopAPI['setPrompt']>[1];

/** The prompt type of `uses`: see registerUsesPrompt(). */
export const USES_PROMPT = 'infra-uses';

/**
 * Registers `infra-uses`: inquirer's checkbox, which answers `[]` without asking when it has
 * nothing to offer (its `choices` are worked out from the answers before: a store uses nothing,
 * and an app may have no stores or APIs yet). Not a checkbox with a `when` function: plop does not
 * take a command-line answer for a prompt that has one, and `-- --uses orders` is one.
 */
export function registerUsesPrompt(plop: NodePlopAPI): void {
  // node-plop hands the plopfile its inquirer (its types leave it out), whose prompts setPrompt adds to.
  const { inquirer } = plop as NodePlopAPI & { inquirer: { prompt: { prompts: Record<string, PromptConstructor> } } };
  const Checkbox = inquirer.prompt.prompts.checkbox;
  type Args = ConstructorParameters<typeof Checkbox>;
  class UsesPrompt extends Checkbox {
    readonly #offers: boolean;
    constructor(question: { choices?: unknown[] }, readLine: Args[1], answers: Args[2]) {
      super(question, readLine, answers);
      this.#offers = (question.choices?.length ?? 0) > 0;
    }
    override run(): Promise<unknown> {
      return this.#offers ? super.run() : Promise.resolve([]);
    }
  }
  plop.setPrompt(USES_PROMPT, UsesPrompt);
}
