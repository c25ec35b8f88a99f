/**
 * The seed's example as an app defined in the test process (a customer server with its own
 * store, a client task calling it), optionally without its store, for builds run in-process.
 */
import { ApiServer, ID, onDeploy, rootId, runPersona, Store } from 'infra-generator';
import type { TempProject } from './temp-project.ts';

export function seedApp(withStore = true): ID {
  const id = rootId('my-app');
  const server = id`customer-server`;
  const db = withStore ? new Store<{ id: string; name: string }>(server`db`) : undefined;
  const saved = new Map<string, unknown>();
  const api = new ApiServer(server`api`);
  const post = api.defineEndpoint(
    '/api/customer',
    async (c: { id: string; name: string }) => (db ? db.set(c.id, c) : saved.set(c.id, c)),
    { method: 'POST' },
  );
  const get = api.defineEndpoint('/api/customer', async (key: string) => (db ? db.get(key) : saved.get(key)), {
    method: 'GET',
  });
  onDeploy(id`example-client`, async () => {
    await post({ id: '1', name: 'John Doe' });
    console.log(await get('1'));
  });
  return id;
}

/** The seed app's compose services (and Kubernetes names): its database, its API, its client. */
export const DB = 'my-app--customer-server--db';
export const API = 'my-app--customer-server--api';
export const CLIENT = 'my-app--example-client';

/**
 * Runs the build persona for `root` in-process into `project`, with the environment `env` (the
 * build reads `env:NAME` bindings from it); resolves to its exit code and output.
 */
export async function buildInto(
  root: ID,
  project: TempProject,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const log = {
    info: (m: string) => lines.push(m),
    error: (m: string, e?: unknown) => lines.push(e === undefined ? m : `${m} ${String(e)}`),
  };
  const paths = {
    entry: `${project.starter}/src/main.ts`,
    appDir: project.starter,
    buildDir: project.buildDir,
    projectRoot: project.root,
  };
  const code = await runPersona({ root, persona: 'build', paths, env, args, log, setExitCode: false });
  return { code, output: lines.join('\n') };
}
