/**
 * The command line, as plop 4 shares it with a generator:
 *
 *   npx plop component store orders               before `--`: plop's own options, the generator's name, then
 *                                                 answers that fill the prompts in order (plop's bypass; `_`: ask)
 *   npx plop component -- --kind store --uses a   after `--`: answers by prompt name (plop's bypass by name)
 *   npx plop component task seed --dry-run        an option plop does not know, before `--`: plop ignores it
 *   npx plop component --help                     plop shows its own help only when no generator is named
 *
 * plop reads the answers and hands them to the prompts itself (plop/src/bypass.js, node-plop's
 * prompt-bypass.js), so every option after `--` is a prompt's name (`--dry-run` too: a prompt never
 * asked). This module reads only what plop leaves to the generator (`--help` and `--dry-run`), and
 * checks what follows `--` strictly with util.parseArgs, taking the generator's prompts as its
 * options: plop would stop at an unknown name with its own message, and ignores stray words there.
 * It needs no copy of plop's own options: before `--` it looks only for its own flags.
 */
import { parseArgs } from 'node:util';
import type { PromptQuestion } from 'node-plop';
import { errors } from './errors.ts';

export interface CommandLine {
  /** The generator named (undefined: none, and plop asks which one). */
  generator: string | undefined;
  /** `--help` or `-h` before `--` (the generator's: plop shows its own only when no generator is named). */
  help: boolean;
  /** `--dry-run` before `--`, or PLOP_DRY_RUN; after `--` it is the `dry-run` prompt's answer. */
  dryRun: boolean;
  /** What follows `--`: plop's answers by name, checked by checkGeneratorArguments(). */
  afterDashes: string[];
  /** The options before `--` (other than the generator's flags), to find a prompt's name given there. */
  optionsBefore: string[];
}

/** PLOP_DRY_RUN=1 (or true, yes): a dry run; unset, empty, 0, false or no: not. */
export function dryRunFromEnv(env: NodeJS.ProcessEnv): boolean {
  const value = env.PLOP_DRY_RUN;
  return value !== undefined && !['', '0', 'false', 'no'].includes(value.toLowerCase());
}

/**
 * Reads `args` (process.argv without node and plop's script) for the generator flags plop leaves
 * alone. The generator named is the first word before `--` that names one of `generators` (plop's
 * own options may come before it, `--dest app` among them).
 */
export function readCommandLine(
  args: readonly string[],
  generators: readonly string[],
  env: NodeJS.ProcessEnv,
): CommandLine {
  const end = args.indexOf('--');
  const before = end === -1 ? [...args] : args.slice(0, end);
  const { tokens } = parseArgs({ args: before, strict: false, allowPositionals: true, tokens: true });
  const generator = tokens.find((t) => t.kind === 'positional' && generators.includes(t.value));
  const options = tokens.flatMap((t) => (t.kind === 'option' ? [t.name] : []));
  return {
    generator: generator?.kind === 'positional' ? generator.value : undefined,
    help: options.includes('help') || options.includes('h'),
    dryRun: options.includes('dry-run') || dryRunFromEnv(env),
    afterDashes: end === -1 ? [] : args.slice(end + 1),
    optionsBefore: options.filter((o) => !['help', 'h', 'dry-run'].includes(o)),
  };
}

/** A generator as plop holds it: its name and its prompts (an array: plop fills only those from the command line). */
export interface GeneratorPrompts {
  name: string;
  prompts: readonly Pick<PromptQuestion, 'name' | 'type'>[];
}

/**
 * Checks the command line against `generator`'s prompts, which are its options after `--` (a
 * confirm prompt is a flag, `--dry-run`; any other takes a value, `--uses orders`), plus `--help`.
 * Returns whether `--help` was given anywhere; throws a GeneratorError for an option no prompt
 * has, one given twice (plop would keep only the last), a word after `--` that answers nothing,
 * or a prompt's name before `--` (plop would take its value for the next answer by position).
 */
export function checkGeneratorArguments(line: CommandLine, generator: GeneratorPrompts): { help: boolean } {
  const names = generator.prompts.map((p) => String(p.name));
  const misplaced = line.optionsBefore.find((o) => names.includes(o));
  if (misplaced) throw errors.misplacedOption(generator.name, misplaced);

  const options = Object.fromEntries([
    ...generator.prompts.map((p) => [String(p.name), { type: p.type === 'confirm' ? 'boolean' : 'string' }] as const),
    ['help', { type: 'boolean', short: 'h' }] as const,
  ]);
  const known = [...names, 'help'];
  const { tokens } = parseArgs({
    args: line.afterDashes,
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind === 'positional') throw errors.tooManyArguments(generator.name, [token.value]);
    if (token.kind !== 'option') continue;
    if (!known.includes(token.name)) throw errors.unknownOption(generator.name, token.rawName, known);
    if (seen.has(token.name)) throw errors.repeatedOption(generator.name, token.name);
    seen.add(token.name);
  }
  try {
    // Strict now that every option is known: a missing value, or a value given to a flag.
    const { values } = parseArgs({ args: line.afterDashes, options, strict: true, allowPositionals: false });
    return { help: line.help || (values as { help?: boolean }).help === true };
  } catch (err) {
    throw errors.badOption(generator.name, (err as Error).message);
  }
}
