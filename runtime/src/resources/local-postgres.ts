/**
 * Which PostgreSQL the local-processes mode (and `infra:prune`) puts the Stores' databases on:
 * the server INFRA_LOCAL_PG_URL names, or else an embedded one of the app's own, its data kept
 * under the build folder (`<build>/postgres/`) across runs, like a compose volume.
 */
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/logger.ts';
import { EmbeddedPostgres, ROOT_SHARED, serverCanReach } from './embedded-postgres.ts';
import { shortHash } from '../private/hash.ts';
import { redactUrl } from './databases.ts';

export interface LocalPostgres {
  /** A superuser's connection URL (database `postgres`). */
  readonly adminUrl: string;
  /** Stops the embedded server if this run started it; a configured server is left alone. */
  stop(): Promise<void>;
}

/**
 * Where the embedded server of the build folder `buildDir` keeps its cluster: `postgres/` in
 * it. Run as root, the server runs as the `postgres` user; if that user cannot reach the build
 * folder (a project under /root, say), the cluster is kept in /var/lib/infra-generator instead,
 * named for the build folder, so each checkout still finds its own data again.
 */
export function embeddedPostgresDir(buildDir: string): string {
  if (serverCanReach(buildDir)) return join(buildDir, 'postgres');
  let folder = buildDir;
  try {
    folder = realpathSync(buildDir);
  } catch {
    // Not made yet: the path as given names it.
  }
  return join(ROOT_SHARED, `postgres-${shortHash(folder)}`);
}

/**
 * The PostgreSQL to use, started if it is the embedded one, said in one line. With
 * `existingOnly`, resolves to undefined instead of making an embedded cluster that does not
 * exist yet (nothing to remove from a server that was never made).
 */
export async function localPostgres(
  env: NodeJS.ProcessEnv,
  buildDir: string,
  log: Logger,
  { existingOnly = false }: { existingOnly?: boolean } = {},
): Promise<LocalPostgres | undefined> {
  const configured = env.INFRA_LOCAL_PG_URL;
  if (configured) {
    log.info(`PostgreSQL: ${redactUrl(configured)} (from INFRA_LOCAL_PG_URL)`);
    return { adminUrl: configured, stop: async () => {} };
  }
  const dir = embeddedPostgresDir(buildDir);
  if (existingOnly && !existsSync(join(dir, 'data'))) return undefined;
  const server = await EmbeddedPostgres.open(dir);
  await server.start();
  log.info(
    `PostgreSQL: embedded, on 127.0.0.1:${server.port}, data in ${dir}` +
      `${server.startedHere ? '' : ' (already running)'} (set INFRA_LOCAL_PG_URL to use a server of your own)`,
  );
  return { adminUrl: server.url, stop: () => (server.startedHere ? server.stop('fast') : Promise.resolve()) };
}
