/**
 * In-process: an endpoint call in one process (phase check, JSON round trip of argument and
 * result, persona context) against calling the handler directly.
 */
import { rootId, ApiServer, onDeploy, runPersona } from 'infra-generator';
import { alternate, report, throughput } from './harness.ts';

export async function benchInProcess(): Promise<void> {
  const id = rootId('bench-in-process');
  const api = new ApiServer(id`api`);
  const handler = async (c: { id: string; name: string }) => ({ ...c, seen: true });
  const call = api.defineEndpoint('/customer', handler);
  const customer = { id: '1', name: 'John Doe' };
  let result: Awaited<ReturnType<typeof alternate>> | undefined;
  onDeploy(id`client`, async () => {
    result = await alternate(
      7,
      () => throughput(50_000, 1, () => call(customer)),
      () => throughput(50_000, 1, () => handler(customer)),
    );
  });
  await runPersona({ root: id, persona: '', setExitCode: false });
  report({
    name: 'in-process endpoint call vs direct handler call',
    ours: { value: result!.ours, unit: 'calls/s' },
    baseline: { value: result!.baseline, unit: 'calls/s' },
    roundRatio: result!.roundRatio,
    better: 'higher',
  });
}

if (import.meta.main) await benchInProcess();
