import { storeContract } from './store-contract.ts';
import { InProcessPlatform } from 'infra-generator/internal/modes/in-process/in-process';

storeContract({
  name: 'memory',
  platform: () => new InProcessPlatform({ log: { info() {}, error() {} }, codeOutsidePersonas: 'allowed' }),
});
