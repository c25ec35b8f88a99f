/**
 * infra-generator/eslint: an ESLint plugin (flat config) that finds phase mistakes in the editor
 * and in CI rather than when the code runs. Its rules need type information (typescript-eslint's
 * `projectService`), so that infra-generator's classes are recognised however they are imported.
 *
 *   import infra from 'infra-generator/eslint';
 *   export default tseslint.config(
 *     { languageOptions: { parserOptions: { projectService: true } } },
 *     infra.configs.recommended,
 *   );
 */
import { deterministicStartup } from './deterministic-startup.ts';
import { noComponentAtRuntime } from './no-component-at-runtime.ts';
import { noRuntimeCallAtStartup } from './no-runtime-call-at-startup.ts';

const plugin = {
  meta: { name: 'infra-generator' },
  rules: {
    'no-component-at-runtime': noComponentAtRuntime,
    'no-runtime-call-at-startup': noRuntimeCallAtStartup,
    'deterministic-startup': deterministicStartup,
  },
  configs: {} as Record<'recommended', object>,
};

plugin.configs.recommended = {
  name: 'infra-generator/recommended',
  files: ['**/*.ts', '**/*.mts', '**/*.cts'],
  plugins: { 'infra-generator': plugin },
  rules: {
    'infra-generator/no-component-at-runtime': 'error',
    'infra-generator/no-runtime-call-at-startup': 'error',
    'infra-generator/deterministic-startup': 'error',
  },
};

export default plugin;
