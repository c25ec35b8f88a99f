/**
 * The commands as a user types them: `npm run infra:build`, `infra:local`, `infra:prune` and
 * `npx plop component`. Each takes `--help` (prints its usage, does nothing else) and refuses an
 * option it does not know; a failing root script prints its message and no `npm error` lines;
 * a build ends with what to run next. The npm scripts run in a temporary copy of the project
 * (support/temp-project.ts), so the repository's build folder and compose.yaml are untouched.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, repoRoot, run, tempProject, type CommandResult, type TempProject } from './support/temp-project.ts';

const test = suite('command lines');
let project: TempProject;
/** Without colours (FORCE_COLOR would override NO_COLOR, with a warning on stderr). */
const env = () => {
  const e = cleanEnv({ NO_COLOR: '1' });
  delete e.FORCE_COLOR;
  return e;
};

test.before(() => {
  project = tempProject();
});

test.after(() => project.remove());

/** `npm run <script> -- <args>` in the temporary project, as a user runs it (no --silent); killed after 60 s. */
const npmRun = (script: string, ...args: string[]) =>
  run('npm', ['run', script, ...(args.length ? ['--', ...args] : [])], {
    cwd: project.root,
    env: env(),
    timeoutMs: 60_000,
  });

const output = (r: CommandResult) => `${r.stdout}${r.stderr}`;
const npmErrorLines = (r: CommandResult) =>
  output(r)
    .split('\n')
    .filter((l) => l.startsWith('npm error') || l.startsWith('npm ERR!'));
/** What the program printed, without npm's `> script` banner (which npm prints before running any script). */
const programLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => !l.startsWith('> '))
    .join('\n')
    .trim();
/** A line a persona process or a Store would print: the local mode started something. */
const startedSomething = (r: CommandResult) =>
  /^my-app\.\S+\s+\||^Store my-app|^Serving:|^Running; press Ctrl-C/m.test(output(r));

test('npm run infra:build -- --bogus: the message, the usage line, and no `npm error` lines', async () => {
  const result = await npmRun('infra:build', '--bogus');
  assert.is.not(result.code, 0, output(result));
  assert.equal(npmErrorLines(result), [], output(result));
  assert.is(
    programLines(result.stderr),
    [
      "Unknown option '--bogus'",
      'Usage: npm run infra:build -- [--target compose|kubernetes] [--bind-store STORE_ID=URL|env:VARIABLE]… [--unbind-store STORE_ID]… [--reset-value ID]… [--otlp-endpoint URL] [--with-telemetry-ui]',
      'Run `npm run infra:build -- --help` for what each option does.',
    ].join('\n'),
  );
  assert.not.ok(existsSync(project.buildDir), 'a refused build writes nothing');
});

test('npm run infra:build refuses a bad --otlp-endpoint and --with-telemetry-ui for Kubernetes: exit 1, the option named', async () => {
  for (const [args, first] of [
    [['--otlp-endpoint', 'collector:4318'], '--otlp-endpoint needs an http:// or https:// URL, not collector:'],
    [['--target', 'kubernetes', '--with-telemetry-ui'], '--with-telemetry-ui runs a dashboard in compose only'],
  ] as const) {
    const result = await npmRun('infra:build', ...args);
    assert.is(result.code, 1, output(result));
    assert.equal(npmErrorLines(result), [], output(result));
    const lines = programLines(result.stderr).split('\n');
    assert.ok(lines[0].startsWith(first), lines[0]);
    assert.match(lines[1], /^Usage: npm run infra:build -- /);
    assert.not.ok(existsSync(project.buildDir), 'a refused build writes nothing');
  }
});

test('npm run infra:build -- --help: the usage with options and examples, nothing built', async () => {
  const result = await npmRun('infra:build', '--help');
  assert.is(result.code, 0, output(result));
  const text = programLines(result.stdout);
  assert.match(text, /^Usage: npm run infra:build -- \[--target compose\|kubernetes\]/);
  for (const part of [
    'Options:',
    '--bind-store STORE_ID=URL',
    '--unbind-store STORE_ID',
    '--reset-value ID',
    '--otlp-endpoint URL',
    '--with-telemetry-ui',
    '-h, --help',
    'Examples:',
    'npm run infra:build -- --target kubernetes',
  ])
    assert.ok(text.includes(part), part);
  assert.not.ok(existsSync(project.buildDir), 'help builds nothing');
});

test('npm run infra:local -- --help needs no build, prints its usage and starts nothing', async () => {
  const result = await npmRun('infra:local', '--help');
  assert.is(result.code, 0, output(result));
  const text = programLines(result.stdout);
  assert.match(text, /^Usage: npm run infra:local -- \[--exit-with-tasks\]/);
  for (const part of ['Options:', '--exit-with-tasks', '-h, --help', 'Examples:']) assert.ok(text.includes(part), part);
  assert.is(result.stderr, '');
});

test('a build ends with what to run next: docker compose for compose, the kubectl steps for kubernetes', async () => {
  const compose = await npmRun('infra:build');
  assert.is(compose.code, 0, output(compose));
  const composeLines = compose.stdout.trimEnd().split('\n');
  assert.match(composeLines.at(-1)!, /^Next: docker compose up --build\b.*npm run infra:local/);

  const kubernetes = await npmRun('infra:build', '--target', 'kubernetes');
  assert.is(kubernetes.code, 0, output(kubernetes));
  assert.ok(existsSync(join(project.buildDir, 'kubernetes', 'kustomization.yaml')), 'the arguments reached the build');
  const text = kubernetes.stdout.trimEnd();
  const next = text.slice(text.lastIndexOf('\nNext: ') + 1).split('\n');
  assert.match(next[0], /^Next: /);
  assert.equal(
    next.slice(1).map((l) => l.trim()),
    [
      'docker build -f starter/build/Dockerfile -t registry.example.com/my-app-app:1 .',
      'docker push registry.example.com/my-app-app:1',
      '(cd starter/build/kubernetes && kustomize edit set image my-app-app=registry.example.com/my-app-app:1)',
      'kubectl delete jobs -l infra-generator/app=my-app,infra-generator/lifecycle=task --ignore-not-found',
      'kubectl apply -k starter/build/kubernetes',
    ],
  );
});

test('with a build: npm run infra:local -- --help --bogus refuses the option and starts nothing; --help alone starts nothing', async () => {
  assert.ok(existsSync(join(project.buildDir, 'values.json')), 'the build of the previous test');
  const refused = await npmRun('infra:local', '--help', '--bogus');
  assert.is.not(refused.code, 0, output(refused));
  assert.match(refused.stderr, /^Unknown option '--bogus'$/m);
  assert.match(refused.stderr, /^Usage: npm run infra:local -- \[--exit-with-tasks\]$/m);
  assert.equal(npmErrorLines(refused), [], output(refused));
  assert.not.ok(startedSomething(refused), output(refused));

  const help = await npmRun('infra:local', '--help');
  assert.is(help.code, 0, output(help));
  assert.match(programLines(help.stdout), /^Usage: npm run infra:local/);
  assert.not.ok(startedSomething(help), output(help));
});

test('npm run infra:prune -- --help: its own usage (--yes), nothing removed; an unknown option is refused', async () => {
  const resources = join(project.buildDir, 'resources.json');
  const before = readFileSync(resources, 'utf8');
  const help = await npmRun('infra:prune', '--help');
  assert.is(help.code, 0, output(help));
  const text = programLines(help.stdout);
  assert.match(text, /^Usage: npm run infra:prune -- \[--yes\]/);
  for (const part of ['Options:', '--yes', '-h, --help', 'Examples:']) assert.ok(text.includes(part), part);
  assert.not.match(text, /orphaned/i);
  assert.is(readFileSync(resources, 'utf8'), before);

  const refused = await npmRun('infra:prune', '--target', 'kubernetes');
  assert.is.not(refused.code, 0, output(refused));
  assert.match(refused.stderr, /^Unknown option '--target'\nUsage: npm run infra:prune -- \[--yes\]/m);
  assert.equal(npmErrorLines(refused), [], output(refused));
});

/** Every file under `dir` with its content, to prove that nothing was written. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile())
      files[join(entry.parentPath, entry.name)] = readFileSync(join(entry.parentPath, entry.name), 'utf8');
  }
  return files;
}

test('npx plop component --help (and -- --help): the kinds, options and examples; nothing asked or written', async () => {
  const components = join(repoRoot, 'starter', 'src', 'components');
  const before = snapshot(components);
  for (const args of [['--help'], ['--', '--help'], ['-h']]) {
    const result = await run('npx', ['plop', 'component', ...args], {
      cwd: repoRoot,
      env: { ...env(), PLOP_DRY_RUN: '' },
      timeoutMs: 60_000,
    });
    const label = `npx plop component ${args.join(' ')}`;
    assert.is(result.code, 0, `${label}: ${output(result)}`);
    assert.match(result.stdout, /^Usage: npx plop component /, label);
    for (const kind of ['store', 'api', 'task', 'worker'])
      assert.match(result.stdout, new RegExp(`^  ${kind} +\\S`, 'm'), `${label}: kind ${kind}`);
    for (const option of ['--uses', '--dry-run', '--kind', '--name', '--help', '--dest'])
      assert.match(result.stdout, new RegExp(`^  (-h, )?${option} `, 'm'), `${label}: ${option}`);
    assert.ok(result.stdout.includes('Examples:\n  npx plop component'), label);
    assert.ok(result.stdout.includes('npx plop component api orders-api -- --uses orders'), label);
    assert.not.match(output(result), /ERROR|No terminal|infra-component/, label);
  }
  assert.equal(snapshot(components), before, 'help writes nothing');
});

test.run();
