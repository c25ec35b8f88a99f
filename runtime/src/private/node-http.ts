/**
 * Node's `http` module, taken as CommonJS code takes it. An ES module's `import … from
 * 'node:http'` makes Node build the module's ES facade, which reads every export, and the
 * `WebSocket`, `CloseEvent` and `MessageEvent` getters load Node's whole bundled undici: 30 to
 * 40 ms of a persona's start (measured on Node 24: `await import('node:http')` 33–51 ms,
 * `process.getBuiltinModule('node:http')` 6 ms), which Fastify, CommonJS, never pays.
 * The lint config refuses a value import of node:http in runtime/src.
 */
export function nodeHttp(): typeof import('node:http') {
  return process.getBuiltinModule('node:http');
}
