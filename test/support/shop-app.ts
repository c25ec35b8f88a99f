/**
 * A small app with more shapes than the seed's, for the build tests of both targets: an API
 * (orders), a public API (catalog) owning a Store, a worker under the catalog (3 replicas),
 * and, unless left out, a task that declares it calls only orders.
 */
import { ApiServer, onDeploy, rootId, Store, Worker, type ID } from 'infra-generator';

export function shopApp(withReport = true): ID {
  const id = rootId('shop');
  const orders = new ApiServer(id`orders`);
  const list = orders.defineEndpoint('/list', async () => [] as string[], { method: 'GET' });
  const catalog = new ApiServer(id`catalog`, { public: true });
  catalog.defineEndpoint('/items', async () => [] as string[], { method: 'GET' });
  const stock = new Store(id`catalog``stock`);
  new Worker(id`catalog``indexer`, async () => void (await stock.allKeys().next()), { replicas: 3 });
  if (withReport) onDeploy(id`report`, async () => void (await list()), { uses: [list] });
  return id;
}
