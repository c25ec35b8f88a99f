/**
 * What the build writes, target by target: each target turns the deployment plan (plan/plan.ts)
 * into files, and TARGETS (registry.ts) lists them all.
 *
 *   compose      compose.yaml at the project root and <build>/env/<service>.env    every build
 *   dockerfile   <build>/Dockerfile and .dockerignore at the project root          every build
 *   diagram      <build>/architecture.md                                            every build
 *   openapi      <build>/openapi/<api>.json: an OpenAPI 3.1 document per ApiServer  every build
 *   clients      <build>/clients/<api>.ts: a typed fetch client per ApiServer        every build
 *   kubernetes   <build>/kubernetes/: the manifests and their kustomization.yaml    `--target kubernetes`
 *
 * Adding a target (say Helm) means adding a folder (targets/helm/, whose module exports its
 * `Target` as `target`) and one line in TARGETS (registry.ts): the build (modes/build-persona/build.ts) and `--target`
 * know the targets from there only. A target imports no other target: what two of them name alike is in
 * shared.ts. Its module is loaded only when a build runs it, since targets use packages that a
 * deployed persona never loads (the runtime's optional dependencies).
 */
import type { AppPaths } from '../core/paths.ts';
import type { DeploymentPlan } from '../plan/plan.ts';

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
