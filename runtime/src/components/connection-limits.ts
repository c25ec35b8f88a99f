/**
 * The connection counts an app may tune, in its code (`new Store(id, { pool: { max } })`,
 * `new ApiServer(id, { clientConnections })`) and per deployment by environment variable
 * (wiring.ts), and their defaults, chosen for 2-core containers:
 * - a Store's pool: 10 connections per store and process, slonik's and pg's own default. On two
 *   cores PostgreSQL's small queries are CPU-bound well before 10 are busy (the bench's 32 calls
 *   in flight keep a pool of 10 full), and PostgreSQL's default max_connections of 100 still
 *   leaves room for several replicas. At least 2: a modify() function may use the store again
 *   while its transaction holds a connection (postgres.ts keeps one free for that).
 * - an API client's connections to one server: 64. undici opens them only as calls overlap, so
 *   a quiet caller holds one; 64 is more calls in flight than two cores serve at once, so the
 *   limit queues calls only under an overload it could not serve anyway.
 */
import { errors } from '../core/errors.ts';

export interface ConnectionLimit {
  readonly min: number;
  readonly max: number;
  readonly default: number;
}

export const STORE_POOL: ConnectionLimit = { min: 2, max: 1000, default: 10 };
export const API_CLIENT_CONNECTIONS: ConnectionLimit = { min: 1, max: 10_000, default: 64 };

/**
 * `value` checked against `limit` (`limit.default` when undefined): a whole number in its
 * bounds, or an error naming the component and `what` was wrong (an option, or a variable),
 * showing what was given (`given`: the variable's text the value was read from).
 */
export function connectionCount(
  limit: ConnectionLimit,
  value: unknown,
  component: { kind: string; id: string },
  what: string,
  given: unknown = value,
): number {
  if (value === undefined) return limit.default;
  if (!Number.isInteger(value) || (value as number) < limit.min || (value as number) > limit.max)
    throw errors.invalidConnections(component.kind, component.id, what, given, limit.min, limit.max);
  return value as number;
}
