/**
 * Every error the generators report, each with a stable code and a message that names the
 * problem and says what to do. A plan with problems writes nothing.
 */

export class GeneratorError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'GeneratorError';
    this.code = code;
  }
}

const make = (code: string, message: string, options?: ErrorOptions) => new GeneratorError(code, message, options);

/** Each generator's usage line, for the errors about its command line. */
export const usages: Readonly<Record<string, string>> = {
  component: 'npx plop component <store|api|task|worker> <name> [-- --uses <name>[,<name>...]] [--dry-run]',
  registry: 'npx plop registry [--dry-run]',
};

const usage = usages.component;

/** The end of every error about a generator's command line: its usage, and where to read more. */
const usageOf = (generator: string) =>
  `Usage: ${usages[generator] ?? `npx plop ${generator}`}. Run \`npx plop ${generator} --help\` for what each option does.`;

export const errors = {
  /** One or more problems found while planning: nothing was written. */
  invalid: (problems: readonly string[]) =>
    make(
      'PLOP_INVALID',
      `Nothing was written. ${problems.length === 1 ? 'Fix this' : `Fix these ${problems.length} problems`} and run it again:\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    ),
  missingAnswers: (missing: readonly string[]) =>
    make(
      'PLOP_NOT_INTERACTIVE',
      `No terminal to ask for the ${missing.join(' and ')}: give ${missing.length === 1 ? 'it' : 'them'} on the command line, e.g. ${usage}`,
    ),
  /** An option after `--` that is not one of the generator's prompts (nor --help). */
  unknownOption: (generator: string, option: string, known: readonly string[]) =>
    make(
      'PLOP_UNKNOWN_OPTION',
      `Unknown option ${option}: the ${generator} generator takes ${known.map((k) => `--${k}`).join(', ')} (after \`--\`). ${usageOf(generator)}`,
    ),
  /** A prompt's option before `--`: plop would take its value for an answer by position. */
  misplacedOption: (generator: string, option: string) =>
    make(
      'PLOP_UNKNOWN_OPTION',
      `--${option} goes after \`--\`: plop hands the generator only what follows it (npx plop ${generator} -- --${option} …). ${usageOf(generator)}`,
    ),
  repeatedOption: (generator: string, option: string) =>
    make(
      'PLOP_UNKNOWN_OPTION',
      `--${option} is given twice: give it once${option === 'uses' ? ', the names separated by commas (--uses orders,orders-api)' : ''}. ${usageOf(generator)}`,
    ),
  /** An option without its value, or a flag given one (util.parseArgs's message). */
  badOption: (generator: string, message: string) =>
    make('PLOP_UNKNOWN_OPTION', `${message.replace(/\.$/, '')}. ${usageOf(generator)}`),
  tooManyArguments: (generator: string, extra: readonly string[]) =>
    make(
      'PLOP_TOO_MANY_ARGUMENTS',
      `Unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((a) => JSON.stringify(a)).join(' ')}. ${usageOf(generator)}`,
    ),
  manifest: (path: string, problem: string) =>
    make(
      'PLOP_MANIFEST',
      `${path}: ${problem}. Nothing was written. Fix the file (it lists each generated component as { "kind", "name", "uses" }), then run \`npx plop registry\``,
    ),
  changedMeanwhile: (path: string) =>
    make(
      'PLOP_CHANGED',
      `${path} changed while the generator ran; nothing was written (or it was rolled back). Run it again`,
    ),
  formatFailed: (path: string, cause: unknown) =>
    make(
      'PLOP_FORMAT_FAILED',
      `Prettier could not format the generated ${path} (${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}); nothing was written. The template made code Prettier cannot read: report it, with the command you ran`,
      { cause },
    ),
  writeFailed: (path: string, cause: unknown) =>
    make(
      'PLOP_WRITE_FAILED',
      `Could not write ${path} (${cause instanceof Error ? cause.message : String(cause)}); every file this run wrote was removed or restored`,
      { cause },
    ),
};
