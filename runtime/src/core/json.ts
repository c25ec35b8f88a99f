/**
 * Values cross every component boundary as JSON, in one process as much as between
 * containers, so a caller never shares a reference with a store or a handler and both modes
 * see the same values.
 */
import { errors, messageOf } from './errors.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * JSON text of `value`, or undefined for `undefined`; throws a clear error for what JSON cannot hold.
 * `subject` names the component in the message (`Store my-app.db`), `id` is its ID.
 */
export function toJsonText(value: unknown, subject: string, what: string, id?: string): string | undefined {
  if (value === undefined) return undefined;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw errors.notJson(subject, what, messageOf(err), id);
  }
  // JSON.stringify returns undefined for a bare function or symbol.
  if (text === undefined) throw errors.notJson(subject, what, `a ${typeof value} has no JSON form`, id);
  return text;
}

/** What a JSON round trip of `value` gives: a fresh copy, `undefined` kept as `undefined`. */
export function jsonRoundTrip<T>(value: T, subject: string, what: string, id?: string): T {
  const text = toJsonText(value, subject, what, id);
  return text === undefined ? (undefined as T) : (JSON.parse(text) as T);
}
