/** Second baseline: the proof of concept's stack, Express, serving the same handler. PORT from the environment. */
import express from 'express';
import { announce, handler, TOKEN } from './handler.ts';

const app = express();
const expected = `Bearer ${TOKEN}`;
app.use(express.json());
app.post('/customer', async (request, response) => {
  if (request.headers.authorization !== expected) {
    response.status(401).json({ error: 'unauthorized' });
    return;
  }
  response.json(await handler(request.body));
});
const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => announce(Number(process.env.PORT)));
process.once('SIGTERM', () => server.close());
