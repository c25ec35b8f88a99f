/**
 * Secret and Password: string values that are kept out of images and logs, and reach only
 * the personas allowed to read them.
 */
import { randomBytes } from 'node:crypto';
import type { ID } from '../core/id.ts';
import type { Json } from '../core/json.ts';
import { BuildTimeValue, type BuildTimeValueOptions } from './build-time-value.ts';

export class Secret extends BuildTimeValue<string> {
  constructor(id: ID, generate: () => string, options: Omit<BuildTimeValueOptions, 'secret'> = {}, kind = 'Secret') {
    super(id, generate, { ...options, secret: true }, kind);
  }

  override encode(value: string): string {
    return value;
  }

  override decode(text: string): string {
    return text;
  }

  override accepts(value: Json): value is string {
    return typeof value === 'string' && value.length > 0;
  }

  override get shape(): string {
    return 'a non-empty string';
  }
}

/** A random password: 32 characters of base64url (192 bits). */
export class Password extends Secret {
  constructor(id: ID, options: Omit<BuildTimeValueOptions, 'secret'> = {}) {
    super(id, () => randomBytes(24).toString('base64url'), options, 'Password');
  }
}
