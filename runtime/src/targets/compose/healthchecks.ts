/**
 * compose.yaml's health checks: of an API or a worker (`GET /healthz`) and of a Store's
 * PostgreSQL (`pg_isready` over TCP: the temporary server of a first start listens on the Unix
 * socket only, so it cannot pass for the real one).
 *
 * A check is a process the engine starts in the container, for the container's whole life, and
 * each start costs the container about 40 ms of CPU before the check does anything (the engine's
 * `exec`: `npm run bench -- idle` measured `CMD true` every 2 s at 2 % of a core). `docker compose
 * up` starts a service's dependents once its check passes, so checks must come often while it
 * starts, and then rarely. Compose's `start_interval` says exactly that, but needs Docker Engine
 * 25 and a Compose that knows the field (docker-compose v1.29 refuses it). So each check is a
 * bash script that does it itself: it runs every 2 s until it has passed once, then sleeps
 * STEADY_SECONDS before asking, so that it runs about every half minute. It remembers that it
 * passed in a file holding the start time of the container's first process, so a restarted
 * container checks quickly again; a check that fails forgets it, so the checks after a failure
 * come every 2 s again and compose sees a dead service as unhealthy within a minute, as before.
 * If that file cannot be written the check still works, every 2 s. The probe itself starts no
 * JavaScript runtime: bash's /dev/tcp asks the health route.
 */
import { HEALTH_ROUTE } from '../../components/api/http-wire.ts';
import { postgresReadyCommand } from '../shared.ts';
import type { StorePlan } from '../../plan/plan.ts';

export interface Healthcheck {
  test: string[];
  interval: string;
  timeout: string;
  retries: number;
  start_period: string;
}

/** How long a check that passed before waits before asking again. */
export const STEADY_SECONDS = 25;
/** Where a check remembers that it passed, and for which start of the container. */
const PASSED_FILE = '/tmp/.infra-healthcheck-passed';
/** How long the probe may wait for an answer. */
const PROBE_SECONDS = 5;

// The engine starts the next check `interval` after one ends; a steady check's sleep is part of it.
const timing = { interval: '2s', timeout: `${STEADY_SECONDS + PROBE_SECONDS + 5}s`, retries: 30 };

/** `probe` (a bash command, successful when healthy), asked every 2 s until it passes, then every STEADY_SECONDS. */
function steadyCheck(probe: string): string[] {
  const script = [
    // Field 22 of /proc/1/stat: when the container's first process started.
    'read -ra first </proc/1/stat',
    `[[ -r ${PASSED_FILE} && $(<${PASSED_FILE}) == "\${first[21]}" ]] && sleep ${STEADY_SECONDS}`,
    `${probe} || { rm -f ${PASSED_FILE}; exit 1; }`,
    `echo "\${first[21]}" 2>/dev/null >${PASSED_FILE}`,
    'exit 0',
  ].join('\n');
  return ['CMD', 'bash', '-c', script];
}

/** Asks `GET /healthz` on `port` (an API's, or a worker's health endpoint; it needs no token); healthy on a 200. */
export function httpHealthcheck(port: number): Healthcheck {
  const request = `GET ${HEALTH_ROUTE} HTTP/1.1\\r\\nHost: 127.0.0.1:${port}\\r\\nConnection: close\\r\\n\\r\\n`;
  const probe =
    `{ exec 3<>/dev/tcp/127.0.0.1/${port} && printf '${request}' >&3 && ` +
    `read -r -t ${PROBE_SECONDS} status <&3 && [[ "$status" == 'HTTP/1.1 200 '* ]]; }`;
  return { test: steadyCheck(probe), ...timing, start_period: '30s' };
}

/** Asks the Store's PostgreSQL over TCP whether it takes connections. */
export function postgresHealthcheck(store: StorePlan): Healthcheck {
  const probe = [...postgresReadyCommand(store), '-t', String(PROBE_SECONDS), '-q'].join(' ');
  return { test: steadyCheck(probe), ...timing, start_period: '60s' };
}
