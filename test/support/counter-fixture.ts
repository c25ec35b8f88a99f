/**
 * The deployed-app fixture (test/fixtures/deployed-app/) wired by hand, as compose or the local
 * runner would wire it: its counter API on a port, with its Store in a database of the test
 * server, and the environment of a task that calls it.
 */
import { adminUrl } from './pg-admin.ts';
import type { PersonaProcess } from './persona-process.ts';

type Start = (persona: string, env: Record<string, string>) => Promise<PersonaProcess>;

/** Starts the counter API (with `start`) on `port`, its Store in `database`; resolves once it listens. */
export async function startCounterApi(start: Start, port: number, token: string, database: string) {
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${database}`;
  const server = await start('fixture.counter.api', {
    FIXTURE__COUNTER__API__PORT: String(port),
    FIXTURE__COUNTER__API__TOKEN: token,
    FIXTURE__COUNTER__DB__URL: dbUrl.toString(),
    INFRA_LISTEN_HOST: '127.0.0.1',
  });
  await server.waitFor(`ApiServer fixture.counter.api listening on http://127.0.0.1:${port}"`);
  return server;
}

/** The environment of a task calling the counter API on `port`. */
export const counterClientEnv = (port: number, token: string) => ({
  FIXTURE__COUNTER__API__URL: `http://127.0.0.1:${port}`,
  FIXTURE__COUNTER__API__TOKEN: token,
});
