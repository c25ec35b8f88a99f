/**
 * The `registry` generator: regenerates starter/src/components/index.ts from components.json,
 * e.g. after removing a component by hand. The component generator does the same on each run.
 */
import type { NodePlopAPI } from 'node-plop';
import { readAppState } from './app-state.ts';
import { readCommandLine } from './cli-input.ts';
import { describePlan, type GeneratorOptions } from './component.ts';
import { planRegistry } from './plan.ts';
import { writePlan } from './write-plan.ts';

export function registryGenerator(plop: NodePlopAPI, options: GeneratorOptions): void {
  plop.setActionType('infra-registry', async (answers, _config, api) => {
    const plan = planRegistry(readAppState(options.appDir), { repoRoot: options.repoRoot, render: (t, d) => api.renderString(t, d) });
    if (!answers.dryRun) writePlan(plan.writes);
    return describePlan(plan, answers.dryRun === true);
  });

  plop.setGenerator('registry', {
    description: 'regenerate src/components/index.ts from components.json',
    prompts: async () => ({ dryRun: readCommandLine(options.argv, 'registry', options.env).dryRun }),
    actions: [{ type: 'infra-registry' }],
  });
}
