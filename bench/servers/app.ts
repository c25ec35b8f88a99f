/**
 * The benchmark app: one ApiServer serving the shared handler, and a task allowed to call it
 * (the persona the benchmark's own process plays when it calls the API as a client). Run as
 * a persona process: PERSONA=bench-api.api with the port, token and host in its environment
 * (`personaEnv` in app-wiring.ts), as the build would give it. It imports `infra-generator`
 * alone, as an app does, so that compiled it loads the runtime's bundle and nothing beside it.
 */
import type { TSchema } from 'typebox';
import { rootId, ApiServer, onDeploy, runPersona } from 'infra-generator';
import { handler } from './handler.ts';

/** `output`: the endpoint's output schema (seen-customer.ts's, with BENCH_OUTPUT=1 in a persona's environment). */
export function benchApp(output?: TSchema) {
  const id = rootId('bench-api');
  const api = new ApiServer(id`api`);
  const postCustomer = output
    ? api.defineEndpoint('/customer', handler, { method: 'POST', output })
    : api.defineEndpoint('/customer', handler, { method: 'POST' });
  const client = onDeploy(id`client`, async () => {}, { uses: [postCustomer] });
  return { id, api, postCustomer, client };
}

if (import.meta.main) {
  benchApp(process.env.BENCH_OUTPUT === '1' ? (await import('./seen-customer.ts')).SeenCustomer : undefined);
  await runPersona();
}
