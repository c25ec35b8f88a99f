/**
 * Phase assertions for application code, as in the proof of concept. Components check their
 * own phase; these are for your functions, as a check and as a note to the reader.
 */
import { appOf, currentContext, defaultApp, type App } from './app.ts';
import { errors, type Phase } from './errors.ts';
import type { ID } from './id.ts';

function check(expected: Phase, what: string | undefined, scope: ID | undefined): void {
  const app: App | undefined = scope ? appOf(scope) : (currentContext()?.app ?? defaultApp());
  if (!app) throw errors.noApp();
  if (app.phase !== expected) {
    const subject = scope ? scope.value : `App ${app.root.value}`;
    throw errors.wrongPhase(subject, what ?? 'this code', [expected], app.phase, scope ? scope.value : app.root.value);
  }
}

/** Throws unless the app (of `scope`, or the current one) is still building its tree. */
export function assertStartup(what?: string, scope?: ID): void {
  check('startup', what, scope);
}

/** Throws unless the app is running (in one process, or as a deployed persona). */
export function assertRuntime(what?: string, scope?: ID): void {
  check('runtime', what, scope);
}

/** Throws unless the app is running as the build persona. */
export function assertBuildTime(what?: string, scope?: ID): void {
  check('build', what, scope);
}
