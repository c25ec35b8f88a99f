import type { RunContext } from '../persona.ts';
export async function runLocal(context: RunContext): Promise<number> {
  context.log.error('The local-processes mode is not built yet');
  return 1;
}
