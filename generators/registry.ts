/**
 * The `registry` generator: regenerates starter/src/components/index.ts from components.json,
 * e.g. after removing a component by hand. The component generator does the same on each run.
 */
import type { NodePlopAPI } from 'node-plop';
import { readAppState } from './app-state.ts';
import { describePlan } from './component.ts';
import { planRegistry } from './plan.ts';
import { dryRunPrompt, isDryRun, type GeneratorOptions } from './prompts.ts';
import { writePlan } from './write-plan.ts';
import { formatPlan } from './format.ts';

export function registryGenerator(plop: NodePlopAPI, options: GeneratorOptions): void {
  plop.setActionType('infra-registry', async (answers, _config, api) => {
    const render = (template: string, data: unknown) => api.renderString(template, data);
    const plan = await formatPlan(
      planRegistry(readAppState(options.appDir), { repoRoot: options.repoRoot, render }),
      options.repoRoot,
    );
    const dryRun = isDryRun(answers, options);
    if (!dryRun) writePlan(plan.writes);
    return describePlan(plan, dryRun);
  });

  plop.setGenerator('registry', {
    description: 'regenerate src/components/index.ts from components.json',
    // Nothing to ask: `-- --dry-run` is its only answer.
    prompts: [dryRunPrompt],
    actions: [{ type: 'infra-registry' }],
  });
}
