/** What `runPersona()` hands the runner of each mode (modes/<mode>/). */
import type { App } from '../core/app.ts';
import type { AppPaths } from '../core/paths.ts';
import type { Logger } from '../core/logger.ts';

export interface RunContext {
  app: App;
  env: NodeJS.ProcessEnv;
  paths: AppPaths;
  args: string[];
  log: Logger;
}
