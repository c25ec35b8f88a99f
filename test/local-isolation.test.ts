/**
 * What a persona of `npm run infra:local` holds, read from its running process
 * (`/proc/<pid>/environ`): the variables compose would give it and a short list of the runner's
 * (PATH, HOME, the locale, …), never the admin URL, the shell's other variables or a bound
 * Store's production URL; and a Store URL whose role owns its own database only, is no
 * superuser, may not connect to another Store's database, and (on the embedded PostgreSQL,
 * which checks passwords) cannot log in as another role.
 *
 * The app: two Stores, each under an ApiServer that answers `/pid` with its process's ID after
 * writing to its Store, and a deploy task that prints both. Its `beta` Store is bound (for
 * deployments) to a URL read from BETA_PROD_DB_URL, which the runner's environment holds.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import YAML from 'yaml';
import { cleanEnv, repoRoot, run } from './support/temp-project.ts';
import { readEnvFile } from './support/env-file.ts';
import { adminUrl } from './support/pg-admin.ts';
import { connected } from './support/pg-query.ts';
import { databaseUrl, ensureLocalDatabases, localDatabaseName } from 'infra-generator/internal/resources/databases';
import { EmbeddedPostgres } from 'infra-generator/internal/resources/embedded-postgres';
import { embeddedPostgresDir } from 'infra-generator/internal/resources/local-postgres';

const APP = `
import { ApiServer, onDeploy, rootId, runPersona, Store, type ID } from 'infra-generator';

const id = rootId('isolation');
/** An API with a Store of its own, which answers its process ID (after a write, to use the Store). */
function pidServer(parent: ID) {
  const db = new Store(parent\`db\`);
  return new ApiServer(parent\`api\`).defineEndpoint(
    '/pid',
    async () => {
      await db.set('pid', process.pid);
      return process.pid;
    },
    { method: 'GET' },
  );
}
const alphaPid = pidServer(id\`alpha\`);
const betaPid = pidServer(id\`beta\`);
onDeploy(id\`probe\`, async () => {
  console.log('alpha pid ' + (await alphaPid()));
  console.log('beta pid ' + (await betaPid()));
});
runPersona();
`;

const SHELL_SECRET = 'a-secret-of-the-shell';
const PROD_URL = 'postgres://prod:prod-password@db.example.com:5432/beta';
/** The runner's variables a persona also gets (README, *Local processes*). */
const PASSED =
  /^(?:PATH|HOME|TMPDIR|TZ|LANG|LANGUAGE|TERM|NO_COLOR|FORCE_COLOR|NODE_OPTIONS|LOG_LEVEL|LOG_FORMAT|LC_\w+|OTEL_\w+|\w+__POOL_MAX|\w+__CONNECTIONS)$/;
const TABLE = { alpha: 'isolation__alpha__db', beta: 'isolation__beta__db' } as const;
const SERVICE = { alpha: 'isolation--alpha--api', beta: 'isolation--beta--api' } as const;
type Name = keyof typeof TABLE;

interface Project {
  readonly root: string;
  readonly buildDir: string;
  database(store: Name): string;
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  remove(): void;
}

/** The app in a temporary folder of its own, built with its `beta` Store bound to BETA_PROD_DB_URL. */
async function builtProject(): Promise<Project> {
  const root = mkdtempSync(join(tmpdir(), 'infra-isolation-'));
  // Run as root, the embedded server's user must reach the build folder.
  chmodSync(root, 0o755);
  writeFileSync(join(root, 'main.ts'), APP);
  symlinkSync(join(repoRoot, 'node_modules'), join(root, 'node_modules'));
  const buildDir = join(root, 'build');
  const project: Project = {
    root,
    buildDir,
    database: (store) => localDatabaseName(TABLE[store], buildDir),
    env: (extra = {}) => cleanEnv({ INFRA_BUILD_DIR: buildDir, INFRA_PROJECT_ROOT: root, ...extra }),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
  const built = await run(
    process.execPath,
    ['--conditions=source', 'main.ts', '--bind-store', 'isolation.beta.db=env:BETA_PROD_DB_URL'],
    { cwd: root, env: project.env({ PERSONA: 'build', BETA_PROD_DB_URL: PROD_URL }) },
  );
  assert.is(built.code, 0, built.stdout + built.stderr);
  return project;
}

/** The names compose gives the API persona of `store` (compose.yaml's inline ones and its env files'). */
function composeNames(project: Project, store: Name): string[] {
  const service = YAML.parse(readFileSync(join(project.root, 'compose.yaml'), 'utf8')).services[SERVICE[store]];
  const fromFiles = (service.env_file as string[]).flatMap((file) =>
    Object.keys(readEnvFile(join(project.root, file))),
  );
  return [...new Set([...Object.keys(service.environment ?? {}), ...fromFiles])].sort();
}

/** What a process holds is read where Linux shows it; elsewhere (macOS) these tests have nothing to read. */
const hasProc = existsSync('/proc/self/environ');

function environOf(pid: number): Record<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return Object.fromEntries(entries.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

interface Running {
  readonly output: () => string;
  readonly pids: Record<Name, number>;
  /** Ctrl-C; resolves to the runner's exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `npm run infra:local` (as `PERSONA=local`) with a shell secret and the bound Store's
 * production URL in its environment, and resolves once its deploy task has printed both API
 * personas' process IDs and ended (the APIs keep running until stop()).
 */
async function startLocal(project: Project, extra: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, ['--conditions=source', 'main.ts'], {
    cwd: project.root,
    env: project.env({ PERSONA: 'local', MY_SHELL_SECRET: SHELL_SECRET, BETA_PROD_DB_URL: PROD_URL, ...extra }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  // Not a measurement: a guard so that a run that hangs fails the test instead of the suite.
  const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const stop = async () => {
    child.kill('SIGINT');
    const code = await exited;
    clearTimeout(guard);
    return code;
  };
  const pidOf = (name: Name) => Number(new RegExp(`\\| ${name} pid (\\d+)$`, 'm').exec(output)?.[1]);
  // The task's end too: a Ctrl-C while it still runs would make the runner's status 130.
  const taskDone = () => /^isolation\.probe\s+\| exited with code 0$/m.test(output);
  await new Promise<void>((resolve) => {
    const take = (chunk: string) => {
      output += chunk;
      if (pidOf('alpha') && pidOf('beta') && taskDone()) resolve();
    };
    child.stdout.setEncoding('utf8').on('data', take);
    child.stderr.setEncoding('utf8').on('data', take);
    child.once('close', () => resolve());
  });
  if (!pidOf('alpha') || !pidOf('beta') || !taskDone()) {
    await stop();
    assert.unreachable(`the deploy task did not print the API personas' process IDs and end:\n${output}`);
  }
  return { output: () => output, pids: { alpha: pidOf('alpha'), beta: pidOf('beta') }, stop };
}

/** The SQLSTATE a connection to `url` fails with; undefined when it succeeds. */
const refusal = (url: string): Promise<string | undefined> =>
  connected(url, async () => undefined).catch((err: { code?: string }) => err.code ?? String(err));

const withUser = (url: string, user: string, password: string, database?: string) => {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  if (database) u.pathname = `/${database}`;
  return u.toString();
};

/**
 * What both servers must show: each API persona's environment is compose's names plus the
 * passed ones, with nothing of the runner's shell; its Store URL's role owns its database and
 * tables, is no superuser, and may not connect to the other Store's database.
 */
async function checkPersonas(project: Project, running: Running, secrets: readonly string[]): Promise<void> {
  const urls = {} as Record<Name, string>;
  for (const name of ['alpha', 'beta'] as const) {
    const env = environOf(running.pids[name]);
    for (const hidden of ['INFRA_LOCAL_PG_URL', 'MY_SHELL_SECRET', 'BETA_PROD_DB_URL'])
      assert.not.ok(hidden in env, `${name}: ${hidden} is not in its environment`);
    for (const [variable, value] of Object.entries(env))
      for (const secret of [SHELL_SECRET, 'prod-password', ...secrets])
        assert.not.ok(value.includes(secret), `${name}: ${variable} holds none of the runner's secrets`);
    const composed = composeNames(project, name);
    // A name compose gives it too (its OTEL_SERVICE_NAME) is its own, whatever the runner's.
    const names = Object.keys(env)
      .filter((n) => !PASSED.test(n) || composed.includes(n))
      .sort();
    // Locally the bound Store has a database of its own, so its owner also gets its password,
    // as compose gives the owner of a Store that is not bound.
    const expected = [...composed, ...(name === 'beta' ? ['ISOLATION__BETA__DB__PASSWORD'] : [])];
    assert.equal(names, expected.sort(), `${name}: the names compose gives it, and no other`);
    const own = name === 'alpha' ? 'ISOLATION__ALPHA__DB__URL' : 'ISOLATION__BETA__DB__URL';
    const other = name === 'alpha' ? 'ISOLATION__BETA__DB__URL' : 'ISOLATION__ALPHA__DB__URL';
    assert.ok(env[own], `${name}: its Store's URL`);
    assert.not.ok(other in env, `${name}: not the other Store's URL`);
    urls[name] = env[own];
  }
  for (const name of ['alpha', 'beta'] as const) {
    const url = new URL(urls[name]);
    assert.is(decodeURIComponent(url.pathname.slice(1)), project.database(name));
    const facts = await connected(urls[name], async (c) => {
      const role = (
        await c.query(
          `SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls
           FROM pg_roles WHERE rolname = current_user`,
        )
      ).rows[0];
      const owner = (
        await c.query('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()')
      ).rows[0].owner;
      const tableOwner = (await c.query('SELECT tableowner FROM pg_tables WHERE tablename = $1', [TABLE[name]])).rows[0]
        ?.tableowner;
      const written = (await c.query(`SELECT value::text AS value FROM ${TABLE[name]} WHERE key = 'pid'`)).rows;
      return { role, owner, tableOwner, written };
    });
    assert.equal(
      facts.role,
      {
        rolname: decodeURIComponent(url.username),
        rolsuper: false,
        rolcreatedb: false,
        rolcreaterole: false,
        rolreplication: false,
        rolbypassrls: false,
      },
      `${name}: its Store's role may do nothing beyond its database`,
    );
    assert.is.not(facts.role.rolname, new URL(adminUrl).username || 'postgres', `${name}: not the admin`);
    assert.is(facts.owner, facts.role.rolname, `${name}: its role owns its database`);
    assert.is(facts.tableOwner, facts.role.rolname, `${name}: and the Store's table, made on first use`);
    assert.equal(facts.written, [{ value: String(running.pids[name]) }], `${name}: the persona wrote through it`);
  }
  // Its own role and password, another Store's database: CONNECT is not granted (42501).
  const alpha = new URL(urls.alpha);
  alpha.pathname = `/${project.database('beta')}`;
  assert.is(await refusal(alpha.toString()), '42501', "alpha's role may not connect to beta's database");
  const beta = new URL(urls.beta);
  beta.pathname = `/${project.database('alpha')}`;
  assert.is(await refusal(beta.toString()), '42501', "beta's role may not connect to alpha's database");
}

async function dropDatabasesAndRoles(project: Project, url: string): Promise<void> {
  await connected(url, async (c) => {
    for (const name of ['alpha', 'beta'] as const) {
      await c.query(`DROP DATABASE IF EXISTS "${project.database(name)}" WITH (FORCE)`);
      await c.query(`DROP ROLE IF EXISTS "${project.database(name)}"`);
    }
  });
}

const onServer = suite('local processes on the server of INFRA_LOCAL_PG_URL: what a persona holds');
let project: Project;

onServer.before(async () => {
  project = await builtProject();
});

onServer.after(async () => {
  await dropDatabasesAndRoles(project, adminUrl);
  project.remove();
});

onServer(
  "each persona holds compose's variables and its Store's own role; an earlier run's database is handed over",
  async () => {
    if (!hasProc) return;
    // What a run before Stores had roles of their own left: the database and table the admin's.
    await connected(adminUrl, (c) => c.query(`CREATE DATABASE "${project.database('alpha')}"`));
    const adminOnAlpha = databaseUrl(adminUrl, project.database('alpha'));
    await connected(adminOnAlpha, (c) =>
      c.query(`CREATE TABLE ${TABLE.alpha} (key text COLLATE "C" PRIMARY KEY, value json);
             INSERT INTO ${TABLE.alpha} VALUES ('kept', '"from an earlier run"')`),
    );
    let stopped: number | null;
    const running = await startLocal(project, { INFRA_LOCAL_PG_URL: adminUrl });
    try {
      await checkPersonas(project, running, [decodeURIComponent(new URL(adminUrl).password)].filter(Boolean));
      const kept = await connected(adminOnAlpha, (c) =>
        c.query(`SELECT value::text AS value FROM ${TABLE.alpha} WHERE key = 'kept'`),
      );
      assert.equal(kept.rows, [{ value: '"from an earlier run"' }], 'the earlier data is still there');
    } finally {
      stopped = await running.stop();
    }
    assert.is(stopped, 0, running.output());
  },
);

onServer(
  'an admin URL of a role with only CREATEROLE and CREATEDB (not a superuser) makes and keeps the roles',
  async () => {
    const suffix = Math.random().toString(36).slice(2, 10);
    const dba = `dba_${suffix}`;
    const store = { store: { id: { value: 'roles.db' } }, database: `roles_${suffix}`, password: 'a-store-password' };
    const dbaUrl = new URL(adminUrl);
    dbaUrl.username = dba;
    dbaUrl.password = 'a-dba-password';
    await connected(adminUrl, (c) => c.query(`CREATE ROLE ${dba} LOGIN CREATEROLE CREATEDB PASSWORD 'a-dba-password'`));
    const buildDir = mkdtempSync(join(tmpdir(), 'infra-roles-'));
    const database = localDatabaseName(store.database, buildDir);
    try {
      for (const run of ['first', 'again']) {
        const urls = await ensureLocalDatabases([store as any], dbaUrl.toString(), buildDir);
        const url = [...urls.values()][0];
        assert.is(decodeURIComponent(new URL(url).username), database, run);
        const owner = await connected(url, async (c) => {
          await c.query('CREATE TABLE IF NOT EXISTS t (k text)');
          return (await c.query('SELECT current_user AS role, rolsuper FROM pg_roles WHERE rolname = current_user'))
            .rows[0];
        });
        assert.equal(owner, { role: database, rolsuper: false }, run);
      }
    } finally {
      await connected(adminUrl, async (c) => {
        await c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
        await c.query(`DROP ROLE IF EXISTS "${database}"`);
        await c.query(`DROP ROLE IF EXISTS ${dba}`);
      });
      rmSync(buildDir, { recursive: true, force: true });
    }
  },
);

onServer.run();

const embedded = suite('local processes on the embedded PostgreSQL: what a persona holds');
let own: Project;

/** Runs `fn` as the embedded server's superuser (the server started for it if the run stopped it). */
async function asSuperuser<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const server = await EmbeddedPostgres.open(embeddedPostgresDir(own.buildDir));
  const wasRunning = existsSync(join(server.dataDir, 'postmaster.pid'));
  await server.start();
  try {
    return await connected(server.url, fn);
  } finally {
    if (!wasRunning) await server.stop();
  }
}

embedded.before(async () => {
  own = await builtProject();
});

embedded.after(async () => {
  const dir = embeddedPostgresDir(own.buildDir);
  if (existsSync(join(dir, 'data'))) await (await EmbeddedPostgres.open(dir)).stop('immediate');
  // Outside the project when its user cannot reach the build folder (root, a private folder).
  rmSync(dir, { recursive: true, force: true });
  own.remove();
});

embedded('each Store URL logs in as its own role only: not as the superuser, not as the other Store', async () => {
  if (!hasProc) return;
  let stopped: number | null;
  const running = await startLocal(own);
  try {
    const server = await EmbeddedPostgres.open(embeddedPostgresDir(own.buildDir));
    await server.start(); // running already: finds its port
    const superuserPassword = new URL(server.url).password;
    await checkPersonas(own, running, [decodeURIComponent(superuserPassword)]);
    const alpha = new URL(environOf(running.pids.alpha).ISOLATION__ALPHA__DB__URL);
    const password = decodeURIComponent(alpha.password);
    // 28P01: invalid_password. The server checks passwords (scram-sha-256), so a Store's
    // password opens neither the superuser nor the other Store's role.
    assert.is(await refusal(withUser(alpha.toString(), 'postgres', password, 'postgres')), '28P01');
    assert.is(await refusal(withUser(alpha.toString(), own.database('beta'), password, own.database('beta'))), '28P01');
    assert.is(await refusal(withUser(alpha.toString(), own.database('alpha'), 'not-its-password')), '28P01');
  } finally {
    stopped = await running.stop();
  }
  assert.is(stopped, 0, running.output());
});

embedded('a role changed by hand (another password, CREATEDB, a membership) is set back on the next run', async () => {
  if (!hasProc) return;
  const role = own.database('alpha');
  await asSuperuser(async (c) => {
    await c.query(`ALTER ROLE "${role}" PASSWORD 'from-another-value-file' CREATEDB`);
    await c.query(`GRANT pg_read_all_data TO "${role}"`);
  });
  let stopped: number | null;
  const running = await startLocal(own);
  try {
    const alpha = environOf(running.pids.alpha).ISOLATION__ALPHA__DB__URL;
    const facts = await connected(alpha, async (c) => ({
      createdb: (await c.query('SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user')).rows[0].rolcreatedb,
      memberOf: (await c.query('SELECT count(*)::int AS n FROM pg_auth_members WHERE member = current_user::regrole'))
        .rows[0].n,
    }));
    assert.equal(facts, { createdb: false, memberOf: 0 }, "the value file's password logs in, the rest is taken back");
  } finally {
    stopped = await running.stop();
  }
  assert.is(stopped, 0, running.output());
});

embedded('a pg_hba.conf edited to let clients in without a password is named in a warning', async () => {
  const hba = join(embeddedPostgresDir(own.buildDir), 'data', 'pg_hba.conf');
  const original = readFileSync(hba, 'utf8');
  writeFileSync(hba, `host all all 127.0.0.1/32 trust\n${original}`);
  let running: Running;
  let stopped: number | null;
  try {
    running = await startLocal(own);
    stopped = await running.stop();
  } finally {
    writeFileSync(hba, original);
  }
  assert.is(stopped, 0, running.output());
  assert.match(
    running.output(),
    `Warning: the embedded PostgreSQL's ${hba} lets clients in without a password (host all all 127.0.0.1/32 trust)`,
  );
});

embedded.run();
