/**
 * Which PostgreSQL the local-processes mode (and `infra:prune`) puts the Stores' databases on:
 * the server INFRA_LOCAL_PG_URL names, or else an embedded one of the app's own, its data kept
 * under the build folder (`<build>/postgres/`) across runs, like a compose volume.
 */
import { existsSync, mkdirSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/logger.ts';
import { EmbeddedPostgres } from './embedded-postgres.ts';
import { ROOT_SHARED, serverCanReach } from './postgres-binaries.ts';
import { shortHash } from '../private/hash.ts';
import { processAlive } from '../private/process.ts';
import { redactUrl } from './databases.ts';

export interface LocalPostgres {
  /** A superuser's connection URL (database `postgres`), for the runner only: no persona gets it. */
  readonly adminUrl: string;
  /**
   * Done with the server: the embedded one is stopped unless another live run still uses it
   * (a configured server is left alone).
   */
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
  // Registered before the start, so a run that starts while this one stops sees it.
  const users = new ServerUsers(join(dir, 'users'));
  users.add();
  try {
    await server.start();
  } catch (err) {
    users.remove();
    throw err;
  }
  log.info(
    `PostgreSQL: embedded, on 127.0.0.1:${server.port}, data in ${dir}` +
      `${server.startedHere ? '' : ' (already running)'} (set INFRA_LOCAL_PG_URL to use a server of your own)`,
  );
  const passwordless = server.passwordlessRules();
  if (passwordless.length)
    log.info(
      `Warning: the embedded PostgreSQL's ${join(server.dataDir, 'pg_hba.conf')} lets clients in without a password ` +
        `(${passwordless.join('; ')}), so a persona could log in as another Store's role or as the superuser. ` +
        `Change the method to scram-sha-256 (or delete ${dir} to start afresh)`,
    );
  return {
    adminUrl: server.url,
    stop: async () => {
      users.remove();
      if (!users.anyAlive()) await server.stop('fast');
    },
  };
}

/**
 * The runs using an embedded server: one file per run, named for its process. The last live run
 * to finish stops the server, so a server one run started is not pulled from under another, and
 * one left by a run that was killed is stopped by the next run that used it.
 */
class ServerUsers {
  readonly #dir: string;
  readonly #mine: string;

  constructor(dir: string) {
    this.#dir = dir;
    this.#mine = join(dir, String(process.pid));
  }

  add(): void {
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    writeFileSync(this.#mine, `${new Date().toISOString()}\n`);
  }

  remove(): void {
    rmSync(this.#mine, { force: true });
  }

  /** Whether a run other than this one still uses the server (files of gone processes are removed). */
  anyAlive(): boolean {
    let alive = false;
    for (const name of readdirSync(this.#dir)) {
      if (processAlive(Number(name))) alive = true;
      else rmSync(join(this.#dir, name), { force: true });
    }
    return alive;
  }
}
