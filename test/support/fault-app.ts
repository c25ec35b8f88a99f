/**
 * How the fault tests start test/fixtures/fault-app as its API persona: the IDs, the wiring
 * environment the build would give it, and plain HTTP calls to its endpoints.
 */
import { join } from 'node:path';
import { Pool, type Dispatcher } from 'undici';
import { rootId } from 'infra-generator';
import { wiring } from 'infra-generator/internal/core/wiring';
import { startPersona, type PersonaProcess } from './persona-process.ts';

export const faultApp = join(import.meta.dirname, '..', 'fixtures', 'fault-app', 'main.ts');
const service = rootId('fault').child('service');
export const faultIds = { api: service.child('api'), db: service.child('db') };

export interface FaultApi {
  persona: PersonaProcess;
  url: string;
  pool: Pool;
  /** PUT /entry: the status and parsed body. */
  put(entry: { key: string; n: number; hold?: string }): Promise<{ status: number; body: any; text: string }>;
  /** GET /entry?arg=<key>. */
  get(key: string): Promise<{ status: number; body: any; text: string }>;
  stop(): Promise<void>;
}

/** Starts the API persona on `port` with its Store at `databaseUrl`; resolves once it listens. */
export async function startFaultApi(port: number, databaseUrl: string, token: string): Promise<FaultApi> {
  const persona = await startPersona(faultApp, faultIds.api.value, {
    [wiring.apiPort(faultIds.api)]: String(port),
    [wiring.apiToken(faultIds.api)]: token,
    [wiring.storeUrl(faultIds.db)]: databaseUrl,
    [wiring.listenHost]: '127.0.0.1',
  });
  await persona.waitFor(`ApiServer ${faultIds.api.value} listening on http://127.0.0.1:${port}"`);
  const url = `http://127.0.0.1:${port}`;
  const pool = new Pool(url, { connections: 32, headersTimeout: 60_000, bodyTimeout: 60_000 });
  const headers = { authorization: `Bearer ${token}` };
  const answer = async (response: Dispatcher.ResponseData) => {
    const text = await response.body.text();
    return { status: response.statusCode, text, body: text ? JSON.parse(text) : undefined };
  };
  return {
    persona,
    url,
    pool,
    put: async (entry) =>
      answer(
        await pool.request({
          method: 'PUT',
          path: '/entry',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify(entry),
        }),
      ),
    get: async (key) =>
      answer(
        await pool.request({ method: 'GET', path: `/entry?arg=${encodeURIComponent(JSON.stringify(key))}`, headers }),
      ),
    stop: async () => {
      await pool.destroy();
      await persona.kill();
    },
  };
}
