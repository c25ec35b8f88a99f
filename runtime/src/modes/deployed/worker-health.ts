/**
 * A deployed worker's health endpoint: `GET /healthz` on INFRA_HEALTH_PORT, so a cluster can
 * probe a worker as it probes an API (a worker serves nothing else). It answers 200 while the
 * worker runs and 503 once it is stopping; a process whose event loop is stuck answers nothing,
 * which is what a liveness probe is there to catch. Node's own http server: a worker need not
 * load Fastify for one route.
 */
import type { Server } from 'node:http';
import { once } from 'node:events';
import type { Persona } from '../../core/persona.ts';
import { HEALTH_ROUTE } from '../../components/api/endpoint.ts';
import { errorBody } from '../../components/api/http-wire.ts';
import { errors } from '../../core/errors.ts';
import { nodeHttp } from '../../private/node-http.ts';

export interface WorkerHealth {
  /** The port it listens on (the one asked for, or the one the system gave for 0). */
  readonly port: number;
  close(): Promise<void>;
}

export async function serveWorkerHealth(
  worker: Persona,
  host: string,
  port: number,
  stopping: AbortSignal,
): Promise<WorkerHealth> {
  const body = (status: string) => JSON.stringify({ status, persona: worker.id.value });
  const server: Server = nodeHttp().createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== HEALTH_ROUTE) {
      response.writeHead(404, { 'content-type': 'application/json' }).end(errorBody(404, `Not found: ${path}`));
    } else if (request.method !== 'GET' && request.method !== 'HEAD') {
      response
        .writeHead(405, { 'content-type': 'application/json', allow: 'GET, HEAD' })
        .end(errorBody(405, `${request.method} is not allowed on ${HEALTH_ROUTE}`));
    } else {
      const ok = !stopping.aborted;
      response.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(body(ok ? 'ok' : 'stopping'));
    }
  });
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (err) {
    throw errors.healthPortUnavailable(worker.id.value, host, port, err);
  }
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
