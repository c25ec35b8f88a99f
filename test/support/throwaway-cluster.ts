/**
 * A PostgreSQL cluster of a test's own, in a temporary folder on a free port (never the
 * machine's main server), that the test may crash and start again. Run as the `postgres`
 * user when the test runs as root (PostgreSQL refuses to run as root).
 */
import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.ts';

const run = promisify(execFile);

/** The newest PostgreSQL server binaries installed (Debian layout). */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  if (versions.length === 0) throw new Error(`No PostgreSQL server binaries under ${root}/*/bin: install postgresql to run this test`);
  return join(root, versions.sort((a, b) => Number(b) - Number(a))[0], 'bin');
}

export class ThrowawayCluster {
  readonly dir: string;
  readonly port: number;
  readonly #bin = postgresBin();
  readonly #asRoot = process.getuid?.() === 0;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  static async create(): Promise<ThrowawayCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'infra-pg-outage-'));
    const cluster = new ThrowawayCluster(dir, await freePort());
    if (cluster.#asRoot) {
      // PostgreSQL refuses to run as root: hand the folder to the postgres user.
      const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(dir, id('-u'), id('-g'));
    }
    await cluster.#pg('initdb', ['-D', cluster.#data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
    return cluster;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  get #data(): string {
    return join(this.dir, 'data');
  }

  /**
   * Also listens on every interface and lets clients from `cidrs` in with a password (scram):
   * for containers reaching this machine's server through their network's gateway.
   */
  acceptRemote(cidrs: readonly string[]): void {
    appendFileSync(join(this.#data, 'pg_hba.conf'), cidrs.map((cidr) => `host all all ${cidr} scram-sha-256\n`).join(''));
    this.#listen = '*';
  }

  #listen = '127.0.0.1';

  async start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=${this.#listen}`;
    await this.#pg('pg_ctl', ['-D', this.#data, '-l', join(this.dir, 'server.log'), '-o', options, '-w', '-t', '60', 'start']);
  }

  /** Stops the server the way a crash would: no checkpoint, clients cut off. */
  async crash(): Promise<void> {
    await this.#pg('pg_ctl', ['-D', this.#data, '-m', 'immediate', '-w', 'stop']);
  }

  async destroy(): Promise<void> {
    if (existsSync(join(this.#data, 'postmaster.pid'))) await this.crash().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The same, synchronously, for a process that exits before the suite's `after` hook runs. */
  destroySync(): void {
    if (!existsSync(this.dir)) return;
    if (existsSync(join(this.#data, 'postmaster.pid'))) {
      const [command, argv] = this.#command('pg_ctl', ['-D', this.#data, '-m', 'immediate', '-w', 'stop']);
      try {
        execFileSync(command, argv, { stdio: 'ignore' });
      } catch {
        // Already stopped.
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  #command(tool: string, args: string[]): [string, string[]] {
    const path = join(this.#bin, tool);
    return this.#asRoot ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
  }

  async #pg(tool: string, args: string[]): Promise<void> {
    const [command, argv] = this.#command(tool, args);
    try {
      await run(command, argv, { cwd: this.dir });
    } catch (err) {
      const { stderr, stdout } = err as { stderr?: string; stdout?: string };
      throw new Error(`${tool} ${args.join(' ')} failed: ${stderr || stdout || (err as Error).message}`);
    }
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
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${seconds} s while the database was down: it must fail fast`)), seconds * 1000);
  });
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}
