import type { RunContext } from '../persona.ts';
import type { Persona } from '../persona-component.ts';
export async function runDeployed(context: RunContext, persona: Persona): Promise<number> {
  context.log.error(`Deployed mode is not built yet (${persona})`);
  return 1;
}
