/**
 * Where an app's files are: its entry module, its package folder, its build folder, and the
 * project root (the folder with the lock file, where compose.yaml goes).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export interface AppPaths {
  /** The entry module that defines the app, e.g. starter/src/main.ts. */
  entry: string;
  /** The folder of the package.json nearest to the entry, e.g. starter/. */
  appDir: string;
  /** Build outputs and the value file: `<appDir>/build`. */
  buildDir: string;
  /**
   * The folder holding package-lock.json (the npm workspace root), e.g. the repository root; env
   * INFRA_PROJECT_ROOT overrides.
   */
  projectRoot: string;
}

function findUp(start: string, file: string): string | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, file))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

export function appPaths(overrides: Partial<AppPaths> = {}, env: NodeJS.ProcessEnv = process.env): AppPaths {
  const entry = resolve(overrides.entry ?? process.argv[1] ?? 'main.ts');
  const appDir = overrides.appDir ?? findUp(dirname(entry), 'package.json') ?? dirname(entry);
  const buildDir = overrides.buildDir ?? (env.INFRA_BUILD_DIR ? resolve(env.INFRA_BUILD_DIR) : join(appDir, 'build'));
  const projectRoot =
    overrides.projectRoot ??
    (env.INFRA_PROJECT_ROOT ? resolve(env.INFRA_PROJECT_ROOT) : (findUp(appDir, 'package-lock.json') ?? appDir));
  return { entry, appDir, buildDir, projectRoot };
}

/** The value file inside a build folder. */
export function valueFilePath(buildDir: string): string {
  return join(buildDir, 'values.json');
}
