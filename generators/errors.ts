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

const usage =
  'npx plop component <store|api|task|worker> <name> [-- --uses <name>[,<name>...]] [--dry-run]';

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
  unknownOption: (option: string, known: readonly string[]) =>
    make('PLOP_UNKNOWN_OPTION', `Unknown option --${option}: the component generator takes ${known.map((k) => `--${k}`).join(', ')}. Usage: ${usage}`),
  tooManyArguments: (extra: readonly string[]) =>
    make('PLOP_TOO_MANY_ARGUMENTS', `Unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((a) => JSON.stringify(a)).join(' ')}. Usage: ${usage}`),
  manifest: (path: string, problem: string) =>
    make(
      'PLOP_MANIFEST',
      `${path}: ${problem}. Nothing was written. Fix the file (it lists each generated component as { "kind", "name", "uses" }), then run \`npx plop registry\``,
    ),
  changedMeanwhile: (path: string) =>
    make('PLOP_CHANGED', `${path} changed while the generator ran; nothing was written (or it was rolled back). Run it again`),
  writeFailed: (path: string, cause: unknown) =>
    make(
      'PLOP_WRITE_FAILED',
      `Could not write ${path} (${cause instanceof Error ? cause.message : String(cause)}); every file this run wrote was removed or restored`,
      { cause },
    ),
};
