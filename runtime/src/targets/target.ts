/**
 * What the build writes, target by target: each target turns the deployment plan (plan/plan.ts)
 * into files, and TARGETS below lists them all.
 *
 *   compose      compose.yaml at the project root and <build>/env/<service>.env    every build
 *   dockerfile   <build>/Dockerfile and .dockerignore at the project root          every build
 *   diagram      <build>/architecture.md                                            every build
 *   kubernetes   <build>/kubernetes/: the manifests and their kustomization.yaml    `--target kubernetes`
 *
 * Adding a target (say Helm) means adding a folder (targets/helm/, whose module exports its
 * `Target` as `target`) and one line in TARGETS: the build (modes/build-persona/build.ts) and `--target`
 * know the targets from there only. A target imports no other target: what two of them name alike is in
 * shared.ts. Its module is loaded only when a build runs it, since targets use packages that a
 * deployed persona never loads (the runtime's optional dependencies).
 */
import type { AppPaths } from '../core/paths.ts';
import type { DeploymentPlan } from '../plan/plan.ts';
import { errors } from '../core/errors.ts';

/** A file a target writes: the build writes it atomically, with `mode`. */
export interface OutputFile {
  /** Absolute. */
  readonly path: string;
  readonly text: string;
  /** 0o600 when it holds a secret, else 0o644. */
  readonly mode: number;
  /**
   * It names other files of the build (compose.yaml: the env files and the Dockerfile;
   * kustomization.yaml: the manifests), so it is written after them: a build stopped half way
   * never leaves it naming a file not yet written.
   */
  readonly namesOthers?: boolean;
  /**
   * A hand edit of it is kept before the build replaces it (hand-edits.ts): its first line holds
   * a checksum of the rest (`withChecksum`).
   */
  readonly keepsHandEdits?: boolean;
}

/** What a target is given besides the plan. */
export interface TargetContext {
  /** Where the app, its project and its build folder are. */
  readonly paths: AppPaths;
  /** Something the build can still write but the user should know: printed with the build's warnings, at its end. */
  warn(message: string): void;
}

export interface Target {
  /** As TARGETS names it (and `--target` for a deployment). */
  readonly name: string;
  /**
   * Its files for `plan`, computed (and checked) without writing anything: a problem throws
   * before the build writes any file.
   */
  files(plan: DeploymentPlan, context: TargetContext): readonly OutputFile[] | Promise<readonly OutputFile[]>;
  /**
   * A folder only this target writes into, and the ending of its files there: the build removes
   * those it no longer writes (env files and manifests of services that are gone: secrets nobody
   * should keep, objects `kubectl apply -k` must not see).
   */
  ownFolder?(paths: AppPaths): { readonly path: string; readonly suffix: string };
  /** For a deployment: the build's last line when it is the `--target`, what to run next (`Next: …`). */
  nextSteps?(plan: DeploymentPlan, paths: AppPaths): string;
}

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
