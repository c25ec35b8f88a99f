import { storeContract } from './store-contract.ts';
import { InProcessPlatform } from '../runtime/src/in-process.ts';

storeContract({
  name: 'memory',
  platform: () => new InProcessPlatform({ log: { info() {}, error() {} } }),
});
