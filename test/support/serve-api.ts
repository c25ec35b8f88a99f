/**
 * An ApiServer served over real HTTP on 127.0.0.1 by the DeployedPlatform, as a deployed
 * persona serves it: the environment carries what the build would give (port, listen address,
 * URL, token), and raw requests reach it with or without the token.
 */
import { request } from 'undici';
import type { ApiServer } from 'infra-generator';
import { DeployedPlatform } from 'infra-generator/internal/modes/deployed/platform';
import { wiring } from 'infra-generator/internal/core/wiring';
import { runAs } from 'infra-generator/internal/core/app';
import { freePort } from './free-port.ts';

export interface ServedApi {
  readonly port: number;
  readonly url: string;
  /** What the platform logged. */
  readonly lines: string[];
  readonly platform: DeployedPlatform;
  readonly controller: AbortController;
}

/** Starts `api` (its app enters the runtime phase) with bearer `token`. */
export async function serveApi(
  api: ApiServer,
  token: string,
  extraEnv: Record<string, string> = {},
): Promise<ServedApi> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    [wiring.apiPort(api.id)]: String(port),
    [wiring.listenHost]: '127.0.0.1',
    [wiring.apiUrl(api.id)]: url,
    [wiring.apiToken(api.id)]: token,
    ...extraEnv,
  };
  const lines: string[] = [];
  const text = (e: unknown) => (e instanceof Error ? ` [${e.message}]` : '');
  const platform = new DeployedPlatform({
    env,
    persona: api,
    log: { info: (m: string) => lines.push(m), error: (m: string, e?: unknown) => lines.push(m + text(e)) },
  });
  api.app.enter('runtime', platform);
  const controller = new AbortController();
  await runAs(api.app, api, () => api.start(controller.signal));
  return { port, url, lines, platform, controller };
}

export interface RawOptions {
  body?: string | Buffer;
  /** The content-type header, if any. */
  type?: string;
  /** The bearer token to send; none when undefined. */
  token?: string;
}

/** A raw HTTP request: what a client function never sends. */
export async function rawRequest(url: string, method: string, options: RawOptions = {}) {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.type) headers['content-type'] = options.type;
  const response = await request(url, { method: method as 'GET', headers, body: options.body });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    text,
    json: text ? (JSON.parse(text) as { error: string; status: number } & Record<string, unknown>) : undefined,
    headers: response.headers,
  };
}
