/**
 * The slonik pool of one Store, configured to fail fast while the database is down or hangs and
 * to recover by itself when it is back, and the test that tells an outage from other failures.
 */
import {
  BackendTerminatedError,
  BackendTerminatedUnexpectedlyError,
  ConnectionError,
  createPool,
  IdleTransactionTimeoutError,
  SlonikError,
  StatementTimeoutError,
  type DatabasePool,
} from 'slonik';
import type { PoolUsage } from '../../core/telemetry/metrics.ts';

/** How long opening one connection may take before the call fails. */
export const CONNECT_TIMEOUT_MS = 3_000;

/**
 * The longest one statement may run, waiting for a row lock included, before the server
 * cancels it (statement_timeout). The store's statements take milliseconds.
 */
export const STATEMENT_TIMEOUT_MS = 5_000;

/**
 * The deadline of a whole store call, measured here, from the call to its answer: waiting for
 * a connection and for earlier writes of the key included, and for modify() its whole
 * transaction, the function included. A database that hangs (frozen, or a network that drops
 * packets silently) answers nothing and refuses nothing; this is what still ends the call. A
 * little longer than STATEMENT_TIMEOUT_MS, so that a server that is merely slow cancels its
 * statement itself first.
 */
export const CALL_TIMEOUT_MS = 6_000;

/**
 * How long the server lets a transaction sit idle before it ends the session (releasing its row
 * lock): for a client that stopped talking (its process frozen, its network gone). Well above
 * CALL_TIMEOUT_MS, so that for a live client its own deadline always comes first.
 */
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 10_000;

/** How long destroying a connection waits for its query, then for its socket, before giving up on them. */
const DESTROY_WAIT_MS = 1_000;

/** A pool of at most `maxPoolSize` connections (connection-limits.ts) for the store `storeId`. */
export async function createStorePool(url: string, storeId: string, maxPoolSize: number): Promise<DatabasePool> {
  const pool = await createPool(url, {
    poolName: storeId,
    maxPoolSize,
    // One attempt of at most CONNECT_TIMEOUT_MS: while the database is down a call fails within
    // seconds instead of queueing behind retries. Every call opens a connection again if it has
    // none, so the store works again as soon as the database is back, without a restart.
    connectionTimeout: CONNECT_TIMEOUT_MS,
    connectionRetryLimit: 0,
    statementTimeout: STATEMENT_TIMEOUT_MS,
    // A transaction whose client stopped talking would hold its row lock until TCP gives up,
    // many minutes later: the server ends it instead.
    idleInTransactionSessionTimeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
    // A call past its deadline throws out of its connection handler, and slonik then destroys
    // the connection (never returns it to the pool); on a hung database its query and its
    // socket never finish, so slonik must not wait long for them. (The driver slonik builds on
    // pg does not pass pg's keepAlive or query_timeout through; the deadline does their work.)
    gracefulTerminationTimeout: DESTROY_WAIT_MS,
    // Slonik runs `DISCARD ALL` on every release: one more round trip per call, about a quarter
    // of a small query's time. It is not needed here, because no connection of this pool can
    // carry session state back into it that could change what a later call does:
    // - the pool is private to this store and runs only the statements in postgres.ts and
    //   postgres-schema.ts: no SET, LISTEN, temporary table or session-level lock (advisory
    //   locks are transaction-scoped). Their only session state is postgres.ts's own named
    //   prepared statements, which are kept on purpose (DISCARD ALL would drop them);
    // - slonik releases a connection only after its work succeeded, i.e. after a statement
    //   outside any transaction or after COMMIT; when anything throws (a statement, COMMIT,
    //   ROLLBACK, or modify()'s function) it destroys the connection instead of reusing it.
    // So a released connection is always idle, outside a transaction, with default settings.
    resetConnection: async () => {},
    // Retrying a transaction would call modify()'s function a second time. Row locks taken in
    // one order (main row first) make serialisation failures and deadlocks impossible here.
    transactionRetryLimit: 0,
    // Values are read as text and parsed here; no column needs a type parser.
    typeParsers: [],
  });
  // Slonik also reports query errors on the pool; the caller already gets them as rejections.
  pool.on('error', () => {});
  return pool;
}

/** The connections of `pool` in use and idle, read when the metrics are collected. */
export function poolUsage(pool: DatabasePool): PoolUsage {
  return () => {
    const state = pool.state();
    return {
      // A connection being reset or destroyed still holds its server session and cannot be lent.
      used: state.acquiredConnections + state.pendingReleaseConnections + state.pendingDestroyConnections,
      idle: state.idleConnections,
    };
  };
}

/**
 * Whether `err` means the database cannot be reached (down, restarting, unreachable, out of
 * connections), as opposed to a query that the database refused.
 */
export function isOutage(err: unknown): boolean {
  if (err instanceof ConnectionError) return err.cause === undefined || isOutage(err.cause);
  if (err instanceof BackendTerminatedError || err instanceof BackendTerminatedUnexpectedlyError) return true;
  // The server gave up on a statement (overloaded, or locks held too long), or on a session
  // whose client went quiet mid-transaction: try again later, as with an outage.
  if (err instanceof StatementTimeoutError || err instanceof IdleTransactionTimeoutError) return true;
  if (err instanceof SlonikError) return false;
  if (!(err instanceof Error)) return false;
  const { code, severity } = err as Error & { code?: unknown; severity?: unknown };
  // An error from the server: connection exceptions, shutdown or start-up in progress, too many connections.
  if (typeof severity === 'string' && typeof code === 'string') return /^(08|53|57P)/.test(code);
  // Otherwise from the socket (ECONNREFUSED, ENOTFOUND, EPIPE...) or the driver (a connect
  // timeout, a connection that ended); anything else is a fault, not an outage.
  return typeof code === 'string' || /connect|terminat|timeout|not queryable/i.test(err.message);
}
