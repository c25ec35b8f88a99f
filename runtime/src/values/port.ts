/**
 * Port: a TCP port number chosen once per ID and kept, distinct from every other kept port.
 * Containers each have their own network namespace, but the local-processes mode runs every
 * persona on 127.0.0.1, so ports must not clash.
 */
import { isTcpPort } from '../private/tcp-port.ts';
import { shortHash } from '../private/hash.ts';
import type { ID } from '../core/id.ts';
import type { Json } from '../core/json.ts';
import { errors } from '../core/errors.ts';
import { BuildTimeValue, type BuildTimeValueOptions, type GenerateContext } from './build-time-value.ts';

const FIRST = 20000;
const COUNT = 10000;

function choosePort(id: ID, { taken }: GenerateContext<number>): number {
  // Start from a hash of the ID so ports are spread, and readable builds are repeatable.
  const start = parseInt(shortHash(id.value), 32) % COUNT;
  const used = new Set(taken);
  for (let i = 0; i < COUNT; i++) {
    const port = FIRST + ((start + i) % COUNT);
    if (!used.has(port)) return port;
  }
  throw errors.portsExhausted(id.value, COUNT, FIRST);
}

export class Port extends BuildTimeValue<number> {
  constructor(id: ID, options: Omit<BuildTimeValueOptions, 'secret'> = {}) {
    super(id, (context) => choosePort(id, context), { ...options, secret: false }, 'Port');
  }

  override encode(value: number): string {
    return String(value);
  }

  override decode(text: string): number {
    return Number(text);
  }

  override accepts(value: Json): value is number {
    return isTcpPort(value);
  }

  override get shape(): string {
    return 'a whole number from 1 to 65535';
  }
}
