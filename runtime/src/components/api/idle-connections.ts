/**
 * Closes an HTTP server's connections on which no byte has moved, either way, for a while: a
 * client that stops reading its answer, or that holds a connection open and silent. A sweep
 * every quarter of the time (at most every 10 s) compares each connection's byte counts with
 * the last sweep's, rather than Node's socket timeout (Fastify's connectionTimeout), which
 * re-arms a timer at every read and every write: 2.5 µs of each request, a twentieth of its
 * server time (measured with `node --cpu-prof`, bench/profile-api.ts).
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

interface Seen {
  /** bytesRead + bytesWritten at the last sweep (written counts what waits in buffers too). */
  moved: number;
  /** When they last changed. */
  since: number;
}

/**
 * Destroys a connection of `server` once nothing has moved on it for `timeoutMs` (give or take
 * a sweep); returns the function that stops the sweeps.
 */
export function closeIdleConnections(server: Server, timeoutMs: number): () => void {
  const connections = new Map<Socket, Seen>();
  const onConnection = (socket: Socket) => {
    connections.set(socket, { moved: 0, since: performance.now() });
    socket.once('close', () => connections.delete(socket));
  };
  server.on('connection', onConnection);
  const sweep = setInterval(
    () => {
      const now = performance.now();
      for (const [socket, seen] of connections) {
        const moved = socket.bytesRead + socket.bytesWritten;
        if (moved !== seen.moved) {
          seen.moved = moved;
          seen.since = now;
        } else if (now - seen.since >= timeoutMs) socket.destroy();
      }
    },
    Math.min(10_000, Math.max(10, Math.floor(timeoutMs / 4))),
  ).unref();
  return () => {
    clearInterval(sweep);
    server.off('connection', onConnection);
  };
}
