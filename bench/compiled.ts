/**
 * The bench servers as compiled JavaScript, the way the app image runs them: the build's
 * Dockerfile compiles with tsc (no type stripping at run time) and bundles the runtime
 * (runtime-bundle.ts), which its command loads with BUNDLE_CONDITION. Compiled once per process
 * into a git-ignored `.tmp-bench-dist-*` folder at the repository root, removed at exit.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './child.ts';
import {
  BUNDLE_CONDITION,
  BUNDLE_ENTRY,
  bundleRuntime,
} from 'infra-generator/internal/targets/dockerfile/runtime-bundle';

const run = promisify(execFile);

export interface CompiledServers {
  /** bench/servers/app.ts, compiled: the persona process. */
  app: string;
  /** bench/servers/fastify-raw.ts, compiled: the bare Fastify script. */
  fastify: string;
}

let compiled: Promise<CompiledServers> | undefined;

export function compiledServers(): Promise<CompiledServers> {
  return (compiled ??= compile());
}

async function compile(): Promise<CompiledServers> {
  const out = mkdtempSync(join(repoRoot, '.tmp-bench-dist-'));
  process.once('exit', () => rmSync(out, { recursive: true, force: true }));
  const tsconfig = join(out, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(repoRoot, 'tsconfig.base.json'),
      compilerOptions: { rootDir: repoRoot, outDir: out, noCheck: true, declaration: false, sourceMap: false },
      files: [
        join(repoRoot, 'runtime', 'src', 'index.ts'),
        join(repoRoot, 'bench', 'servers', 'app.ts'),
        join(repoRoot, 'bench', 'servers', 'fastify-raw.ts'),
      ],
    }),
  );
  await run(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', tsconfig], {
    cwd: repoRoot,
  });
  // The compiled app imports `infra-generator`: point that name at the compiled runtime, or its
  // bundle (as the image does) under BUNDLE_CONDITION.
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'runtime', 'package.json'), 'utf8'));
  writeFileSync(
    join(out, 'runtime', 'package.json'),
    JSON.stringify({
      ...manifest,
      exports: {
        '.': { [BUNDLE_CONDITION]: `./${BUNDLE_ENTRY}`, default: './src/index.js' },
        './internal/*': './src/*.js',
      },
    }),
  );
  await bundleRuntime({ packageDir: join(out, 'runtime'), entry: 'src/index.js' });
  writeFileSync(join(out, 'package.json'), JSON.stringify({ type: 'module' }));
  mkdirSync(join(out, 'node_modules'));
  symlinkSync(join(out, 'runtime'), join(out, 'node_modules', 'infra-generator'));
  return { app: join(out, 'bench', 'servers', 'app.js'), fastify: join(out, 'bench', 'servers', 'fastify-raw.js') };
}

if (import.meta.main) console.log(await compiledServers());
