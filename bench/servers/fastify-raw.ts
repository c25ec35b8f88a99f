/** Baseline: raw Fastify serving the same handler, with a bearer-token check like ours. PORT from the environment. */
import Fastify from 'fastify';
import { announce, handler, TOKEN, type Customer } from './handler.ts';

const app = Fastify({ logger: false });
const expected = `Bearer ${TOKEN}`;
app.post('/customer', async (request, reply) => {
  if (request.headers.authorization !== expected) return reply.code(401).send({ error: 'unauthorized' });
  return handler(request.body as Customer);
});
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
announce(Number(process.env.PORT));
process.once('SIGTERM', () => void app.close());
