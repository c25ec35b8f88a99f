/**
 * The benchmark app (app.ts) as the build would wire it: the environment of its API persona,
 * and this process as a copy of its client task calling the API over HTTP.
 */
import { appOf } from 'infra-generator';
import { treeFingerprint, treeListing } from 'infra-generator/internal/core/fingerprint';
import { wiring } from 'infra-generator/internal/core/wiring';
import { runAs } from 'infra-generator/internal/core/app';
import { DeployedPlatform } from 'infra-generator/internal/modes/deployed/platform';
import { benchApp } from './app.ts';
import { customer, TOKEN } from './handler.ts';
import { SeenCustomer } from './seen-customer.ts';

/**
 * The environment of the API persona process listening on `port`, with the tree fingerprint
 * the build would give it (a deployed persona without one refuses to start).
 */
export function personaEnv(port: number, output = false): Record<string, string> {
  const { id } = benchApp(output ? SeenCustomer : undefined);
  const api = id`api`;
  const listing = treeListing(appOf(id));
  return {
    ...(output ? { BENCH_OUTPUT: '1' } : {}),
    PERSONA: api.value,
    [wiring.treeFingerprint]: treeFingerprint(listing),
    [wiring.treeListing]: JSON.stringify(listing),
    [wiring.apiPort(api)]: String(port),
    [wiring.apiToken(api)]: TOKEN,
    [wiring.listenHost]: '127.0.0.1',
  };
}

/**
 * This process as a copy of the app's client task, calling the API persona at `url` over HTTP
 * through the typed client, as a deployed task does. `within` runs a load as that persona (a
 * deployed task's whole run is in it, not each call).
 */
export function httpClientOf(url: string) {
  const { api, postCustomer, client } = benchApp();
  const platform = new DeployedPlatform({
    env: { [wiring.apiUrl(api.id)]: url, [wiring.apiToken(api.id)]: TOKEN },
    persona: client,
    log: { info() {}, error: console.error },
  });
  const app = appOf(api.id);
  app.enter('runtime', platform);
  return {
    persona: client,
    call: () => postCustomer(customer),
    within: <T>(fn: () => Promise<T>) => runAs(app, client, fn),
    close: () => platform.close(),
  };
}

export const personaReady = (port: number) => `listening on http://127.0.0.1:${port}`;
