/**
 * What more than one target names the same way: the images, the PostgreSQL data folder, the
 * name shared by the personas that call every API, and the files one target writes and another
 * names (compose.yaml, the Dockerfile); and where the compose target's telemetry dashboard is,
 * which the command line's usage names too. A target imports these from here, never from another
 * target.
 */
import { join } from 'node:path';
import { STORE_PORT, type DeploymentPlan, type StorePlan } from '../plan/plan.ts';

export const POSTGRES_IMAGE = 'postgres:17-bookworm';
export const POSTGRES_DATA = '/var/lib/postgresql/data';

/**
 * What a Store's PostgreSQL container is told, in the postgres image's own variables: its user
 * and database inline, its password kept private (an env file of mode 0600, a Secret).
 */
export function postgresEnvironment(store: StorePlan): {
  readonly inline: Record<string, string>;
  readonly secret: Record<string, string>;
} {
  return {
    inline: { POSTGRES_USER: store.user, POSTGRES_DB: store.database },
    secret: { POSTGRES_PASSWORD: store.password },
  };
}

/**
 * Asks a Store's PostgreSQL whether it is ready, over TCP: the temporary server of a first
 * start listens on the Unix socket only, so it cannot pass for the real one.
 */
export function postgresReadyCommand(store: StorePlan): string[] {
  return ['pg_isready', '-h', '127.0.0.1', '-p', String(STORE_PORT), '-U', store.user, '-d', store.database];
}

/**
 * The network (compose) or label and Secret (Kubernetes) that joins the personas that call
 * every API (declared no `uses`) with the APIs that also declared none, and the env file those
 * personas share: one each instead of one per persona and API. An API that declared its `uses`
 * stays off it (it would reach the others through it); the callers of every API join that API's
 * own network instead. The build refuses a component whose files would take these names.
 */
export const EVERY_API = 'every-api';

/**
 * `text` (an ID, say) made safe for one line of a generated file's comment: each control or
 * line-separator character written as `\u{…}`, so that nothing embedded can start a line of
 * its own (a `RUN` in the Dockerfile, a key in YAML). IDs refuse such characters already
 * (INFRA_ID_CONTROL_CHARACTER); this is the writers' own guard, whatever reaches them.
 */
export function oneLine(text: string): string {
  return text.replace(/[\p{Cc}\u2028\u2029]/gu, (ch) => `\\u{${ch.codePointAt(0)!.toString(16)}}`);
}

/** The name of the one image every persona runs (`my-app-app`), without a tag. */
export function appImageName(plan: DeploymentPlan): string {
  return `${plan.app.root.dnsLabel}-app`;
}

/** The one image every persona runs, as compose and the manifests name it. */
export function appImage(plan: DeploymentPlan): string {
  return `${appImageName(plan)}:latest`;
}

/** The deployment that can run the telemetry dashboard (`--with-telemetry-ui`); a cluster has its own collector. */
export const TELEMETRY_UI_TARGET = 'compose';
/** The dashboard's UI, published on the host's loopback only (the compose target runs it). */
export const TELEMETRY_UI_PORT = 18888;
export const TELEMETRY_UI_URL = `http://127.0.0.1:${TELEMETRY_UI_PORT}`;

/** compose.yaml, at the project root (the compose target writes it; the build context leaves it out). */
export const COMPOSE_FILE = 'compose.yaml';

/** The app's Dockerfile: the dockerfile target writes it, compose builds from it, the Kubernetes next steps name it. */
export function dockerfilePath(buildDir: string): string {
  return join(buildDir, 'Dockerfile');
}
