/**
 * What the build reads of the npm project for the Dockerfile, read as the tools that use it
 * read it: tsconfig.json as `tsc` does (`extends` followed, relatively and from packages, paths
 * relative to the config that sets them, comments and trailing commas, strings left alone), and
 * the workspaces as npm finds them (globs, braces, negations, folders without a package.json
 * left out). Each case is checked against `tsc --showConfig` or npm itself.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { readProjectLayout } from 'infra-generator/internal/targets/dockerfile/project';
import type { ProjectLayout } from 'infra-generator/internal/targets/dockerfile/project';
import { rejects } from '../support/rejects.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const tscBin = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');

interface Project {
  readonly root: string;
  /** The layout of the app in `appDir` whose entry is `<appDir>/src/main.ts`. */
  layout(appDir?: string): Promise<ProjectLayout>;
  remove(): void;
}

/**
 * A temporary npm project of `files` (objects are written as JSON), with a lock file and an app
 * entry module; unless `files` gives its own package.json, the app is the root's one workspace.
 */
function project(files: Record<string, string | object>, appDir = 'app'): Project {
  const root = mkdtempSync(join(tmpdir(), 'infra-layout-'));
  const all: Record<string, string | object> = {
    'package.json': { name: 'fixture', private: true, workspaces: [appDir] },
    'package-lock.json': '{}',
    [`${appDir}/package.json`]: { name: 'app' },
    [`${appDir}/src/main.ts`]: 'export {};\n',
    ...files,
  };
  for (const [path, content] of Object.entries(all)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return {
    root,
    layout: (dir = appDir) => {
      const app = join(root, dir);
      return readProjectLayout({
        entry: join(app, 'src', 'main.ts'),
        appDir: app,
        buildDir: join(app, 'build'),
        projectRoot: root,
      });
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** outDir and rootDir of `tsconfig` as `tsc --showConfig` resolves them, relative to `root`. */
function tscSays(root: string, tsconfig: string): { outDir?: string; rootDir?: string } {
  const file = join(root, tsconfig);
  const result = spawnSync(process.execPath, [tscBin, '--showConfig', '-p', file], { encoding: 'utf8' });
  assert.is(result.status, 0, result.stdout + result.stderr);
  const options = JSON.parse(result.stdout).compilerOptions ?? {};
  const inRoot = (path?: string) =>
    path === undefined
      ? undefined
      : relative(root, resolve(dirname(file), path))
          .split('\\')
          .join('/');
  return { outDir: inRoot(options.outDir), rootDir: inRoot(options.rootDir) };
}

/** The workspace folders npm itself runs a command in (`npm exec --workspaces`), in its order, relative to `root`. */
function npmWorkspaces(root: string): string[] {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
  const result = spawnSync('npm', ['exec', '--workspaces', '--no-update-notifier', '-c', 'pwd'], {
    cwd: root,
    encoding: 'utf8',
    env,
  });
  assert.is(result.status, 0, result.stdout + result.stderr);
  return result.stdout
    .split('\n')
    .filter((line) => line.startsWith('/'))
    .map((line) => relative(root, line));
}

const test = suite('project layout');

test('extends (relative, chained): outDir and rootDir set only in base configs, relative to the config that sets them, as tsc says', async () => {
  const p = project({
    'configs/base.json': { compilerOptions: { outDir: '../out/app', rootDir: '../app/other' } },
    'app/tsconfig.build.json': { extends: '../configs/base.json', compilerOptions: { rootDir: 'src' } },
    'app/tsconfig.json': { extends: './tsconfig.build.json', include: ['src'] },
  });
  try {
    const layout = await p.layout();
    assert.equal(layout.compile, [{ tsconfig: 'app/tsconfig.json', outDir: 'out/app' }]);
    assert.equal(layout.command, ['node', 'out/app/main.js']);
    assert.equal(layout.outputs, ['out/app']);
    assert.equal(tscSays(p.root, 'app/tsconfig.json'), { outDir: 'out/app', rootDir: 'app/src' });
  } finally {
    p.remove();
  }
});

test('extends from packages: "pkg" with a package.json tsconfig field, "pkg/file.json", and a scoped package; ${configDir} is the extending config', async () => {
  const p = project({
    'package.json': { name: 'fixture', private: true, workspaces: ['app', 'lib', 'tool'] },
    'node_modules/base-field/package.json': { name: 'base-field', tsconfig: 'configs/strict.json' },
    'node_modules/base-field/configs/strict.json': {
      compilerOptions: { outDir: '${configDir}/built', rootDir: '${configDir}/src' },
    },
    'node_modules/base-file/package.json': { name: 'base-file' },
    'node_modules/base-file/node.json': { compilerOptions: { outDir: '${configDir}/dist' } },
    // A package config's plain relative outDir is relative to the package, as tsc has it.
    'node_modules/@acme/tsconfig/package.json': { name: '@acme/tsconfig' },
    'node_modules/@acme/tsconfig/tsconfig.json': { compilerOptions: { outDir: 'lib' } },
    'app/tsconfig.json': { extends: 'base-field', include: ['src'] },
    'lib/package.json': { name: 'lib' },
    'lib/src/index.ts': 'export {};\n',
    'lib/tsconfig.json': { extends: 'base-file/node.json', compilerOptions: { rootDir: 'src' }, include: ['src'] },
    'tool/package.json': { name: 'tool' },
    'tool/src/index.ts': 'export {};\n',
    'tool/tsconfig.json': { extends: '@acme/tsconfig', compilerOptions: { rootDir: 'src' }, include: ['src'] },
  });
  try {
    const layout = await p.layout();
    assert.equal(layout.compile, [
      { tsconfig: 'app/tsconfig.json', outDir: 'app/built' },
      { tsconfig: 'lib/tsconfig.json', outDir: 'lib/dist' },
      { tsconfig: 'tool/tsconfig.json', outDir: 'node_modules/@acme/tsconfig/lib' },
    ]);
    assert.equal(layout.command, ['node', 'app/built/main.js']);
    assert.equal(tscSays(p.root, 'app/tsconfig.json'), { outDir: 'app/built', rootDir: 'app/src' });
    assert.equal(tscSays(p.root, 'lib/tsconfig.json'), { outDir: 'lib/dist', rootDir: 'lib/src' });
    assert.equal(tscSays(p.root, 'tool/tsconfig.json').outDir, 'node_modules/@acme/tsconfig/lib');
  } finally {
    p.remove();
  }
});

test('JSON with comments: line and block comments, trailing commas, and strings that hold ",]", ",}", "//" and "/*" kept intact', async () => {
  const p = project({
    'configs/base.json': [
      '// the shared settings',
      '{',
      '  /* where the JavaScript goes */',
      '  "compilerOptions": {',
      '    "outDir": "../out/a,]/b,}", // a comment after a value',
      '    "rootDir": "../app/src", /* and one before the end */',
      '  },',
      '}',
    ].join('\n'),
    'app/tsconfig.json': [
      '{',
      '  "extends": "../configs/base.json", // line comment',
      '  "include": ["src/a,]", "src//b", "src/*c*/", "src",],',
      '  /* block',
      '     comment */',
      '}',
    ].join('\n'),
  });
  try {
    const layout = await p.layout();
    assert.equal(layout.compile, [{ tsconfig: 'app/tsconfig.json', outDir: 'out/a,]/b,}' }]);
    assert.equal(layout.command, ['node', 'out/a,]/b,}/main.js']);
    assert.equal(tscSays(p.root, 'app/tsconfig.json'), { outDir: 'out/a,]/b,}', rootDir: 'app/src' });
  } finally {
    p.remove();
  }
});

test('a tsconfig without extends: a string ending in ",]" or ",}" is not cut', async () => {
  const p = project({
    'app/tsconfig.json':
      '{ "compilerOptions": { "rootDir": "src", "outDir": "dist,}", }, "include": ["src,]", "src"], }',
  });
  try {
    assert.equal((await p.layout()).compile, [{ tsconfig: 'app/tsconfig.json', outDir: 'app/dist,}' }]);
    assert.equal(tscSays(p.root, 'app/tsconfig.json').outDir, 'app/dist,}');
  } finally {
    p.remove();
  }
});

test('workspaces as npm finds them: globs, braces, "**", a negation, and folders without a package.json left out, in npm\'s order', async () => {
  const pkg = (name: string) => ({ [`${name}/package.json`]: { name: name.replaceAll('/', '-') } });
  const p = project(
    {
      'package.json': {
        name: 'fixture',
        private: true,
        workspaces: ['packages/*', '!packages/skip', 'tools/{lint,fmt}', 'apps/**'],
      },
      ...pkg('packages/b'),
      ...pkg('packages/a'),
      ...pkg('packages/skip'),
      'packages/empty/README.md': 'a folder without package.json is no workspace\n',
      ...pkg('tools/lint'),
      ...pkg('tools/fmt'),
      ...pkg('tools/other'),
      ...pkg('apps/web'),
      ...pkg('apps/web/admin'),
      'packages/a/tsconfig.json': { compilerOptions: { rootDir: 'src', outDir: 'dist' } },
      'packages/skip/tsconfig.json': { compilerOptions: { rootDir: 'src', outDir: 'dist' } },
      'apps/web/tsconfig.json': { compilerOptions: { rootDir: 'src', outDir: 'dist' } },
    },
    'apps/web',
  );
  try {
    const layout = await p.layout();
    const folders = ['packages/a', 'packages/b', 'tools/fmt', 'tools/lint', 'apps/web', 'apps/web/admin'];
    assert.equal(npmWorkspaces(p.root), folders);
    assert.equal(layout.packageFiles, ['package.json', ...folders.map((f) => `${f}/package.json`)]);
    assert.equal(layout.compile, [
      { tsconfig: 'packages/a/tsconfig.json', outDir: 'packages/a/dist' },
      { tsconfig: 'apps/web/tsconfig.json', outDir: 'apps/web/dist' },
    ]);
    assert.equal(layout.command, ['node', 'apps/web/dist/main.js']);
  } finally {
    p.remove();
  }
});

test('workspaces as an object ({ packages: [...] }): "**" reaches nested folders, a negation takes out only what it matches', async () => {
  const p = project({
    'package.json': { name: 'fixture', private: true, workspaces: { packages: ['packages/**', '!packages/b', 'app'] } },
    'packages/a/package.json': { name: 'a' },
    'packages/b/package.json': { name: 'b' },
    'packages/b/one/package.json': { name: 'b-one' },
    'packages/b/two/package.json': { name: 'b-two' },
  });
  try {
    const layout = await p.layout();
    const folders = ['packages/a', 'packages/b/one', 'packages/b/two', 'app'];
    assert.equal(npmWorkspaces(p.root), folders);
    assert.equal(layout.packageFiles, ['package.json', ...folders.map((f) => `${f}/package.json`)]);
  } finally {
    p.remove();
  }
});

test('an extends that cannot be resolved, a setting of the wrong type, or an outDir outside the project stops the build with the file and the problem', async () => {
  const missing = project({
    'app/tsconfig.json': { extends: './missing.json', compilerOptions: { rootDir: 'src', outDir: 'dist' } },
  });
  const noPackage = project({
    'app/tsconfig.json': { extends: '@acme/no-such-config', compilerOptions: { rootDir: 'src', outDir: 'dist' } },
  });
  const badType = project({
    'configs/base.json': { compilerOptions: { outDir: 5 } },
    'app/tsconfig.json': { extends: '../configs/base.json' },
  });
  const badNoEmit = project({
    'app/tsconfig.json': { compilerOptions: { rootDir: 'src', outDir: 'dist', noEmit: 'no' } },
  });
  const outside = project({
    'configs/base.json': { compilerOptions: { outDir: '../../elsewhere' } },
    'app/tsconfig.json': { extends: '../configs/base.json', compilerOptions: { rootDir: 'src' } },
  });
  try {
    await rejects(
      missing.layout(),
      /Cannot read .*app\/tsconfig\.json \(its extends "\.\/missing\.json" cannot be resolved\)/,
    );
    await rejects(
      noPackage.layout(),
      /Cannot read .*app\/tsconfig\.json \(its extends "@acme\/no-such-config" cannot be resolved\)/,
    );
    await rejects(badType.layout(), /Cannot read .*app\/tsconfig\.json \(a setting has a value of the wrong type/);
    await rejects(
      badNoEmit.layout(),
      /Cannot read .*app\/tsconfig\.json \(compilerOptions\.noEmit must be a boolean\)/,
    );
    await rejects(
      outside.layout(),
      /Cannot read .*app\/tsconfig\.json \(its outDir .*elsewhere is outside the project root/,
    );
  } finally {
    missing.remove();
    noPackage.remove();
    badType.remove();
    badNoEmit.remove();
    outside.remove();
  }
});

test.run();
