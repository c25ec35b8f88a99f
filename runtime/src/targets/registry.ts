/**
 * The registry of targets: which run on every build and which `--target` chooses. Adding a
 * target (say Helm) is a folder whose module exports its `Target` as `target`, and one line here.
 * Kept apart from target.ts (the interface), so the targets do not import the list of targets.
 */
import { errors } from '../core/errors.ts';
import type { Target } from './target.ts';

/** A line of TARGETS. */
export interface RegisteredTarget {
  readonly name: string;
  /** `every build`: every build writes its files; `--target`: only a build given `--target <name>`. */
  readonly runs: 'every build' | '--target';
  /**
   * A deployment, which `--target` chooses (the first is the default) and whose `nextSteps` the
   * build ends with. One that runs on `--target` only is always one.
   */
  readonly deployment: boolean;
  /** Its module (`targets/<name>/…`), which exports the Target as `target`. */
  load(): Promise<{ readonly target: Target }>;
}

/**
 * Every target, in the order the build asks them for their files and writes those (every build's
 * first, then the one `--target` chose; in each group a file that names others after them).
 */
export const TARGETS: readonly RegisteredTarget[] = [
  { name: 'compose', runs: 'every build', deployment: true, load: () => import('./compose/compose.ts') },
  { name: 'dockerfile', runs: 'every build', deployment: false, load: () => import('./dockerfile/dockerfile.ts') },
  { name: 'diagram', runs: 'every build', deployment: false, load: () => import('./diagram/diagram.ts') },
  { name: 'openapi', runs: 'every build', deployment: false, load: () => import('./openapi/openapi.ts') },
  { name: 'clients', runs: 'every build', deployment: false, load: () => import('./clients/clients.ts') },
  { name: 'kubernetes', runs: '--target', deployment: true, load: () => import('./kubernetes/kubernetes.ts') },
];

/** What `--target` takes: the deployments, the default first (`compose`). */
export const TARGET_CHOICES: readonly string[] = TARGETS.filter((t) => t.deployment).map((t) => t.name);
export const DEFAULT_TARGET = TARGET_CHOICES[0];

/** The targets of a build given `--target <chosen>`, loaded. */
export interface BuildTargets {
  /**
   * Every build's targets, then (when it is not among them) the chosen one, in the order of
   * TARGETS: the build writes the files of one group together.
   */
  readonly groups: readonly (readonly Target[])[];
  /** The chosen deployment: the build ends with its next steps. */
  readonly chosen: Target;
}

/**
 * Loads the targets of a build given `--target <chosen>`, one after the other (so that, of
 * several missing packages, the build always names the same one).
 */
export async function loadTargets(chosen: string): Promise<BuildTargets> {
  if (!TARGET_CHOICES.includes(chosen)) throw errors.unknownTarget(chosen, TARGET_CHOICES);
  const load = async (registered: readonly RegisteredTarget[]): Promise<Target[]> => {
    const loaded: Target[] = [];
    for (const line of registered) loaded.push((await line.load()).target);
    return loaded;
  };
  const everyBuild = await load(TARGETS.filter((t) => t.runs === 'every build'));
  const onlyChosen = await load(TARGETS.filter((t) => t.runs === '--target' && t.name === chosen));
  return {
    groups: onlyChosen.length > 0 ? [everyBuild, onlyChosen] : [everyBuild],
    chosen: [...everyBuild, ...onlyChosen].find((t) => t.name === chosen)!,
  };
}
