/** A TCP port on 127.0.0.1 that nothing listens on right now: the runtime's own helper. */
export { freePort } from 'infra-generator/internal/private/free-port';
