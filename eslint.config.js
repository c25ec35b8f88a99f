// ESLint (flat config) with typescript-eslint's recommended rules; prettier owns the layout.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
// The runtime's own plugin, from its sources (a clone has no dist/); apps import 'infra-generator/eslint'.
import infra from './runtime/src/eslint/index.ts';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/',
      '**/dist/',
      'runtime/bundle/',
      'starter/build/',
      'test/fixtures/**/build/',
      '.tmp-*/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // Lines of code at most 120 characters; long message strings and URLs may run on.
      'max-len': [
        'error',
        {
          code: 120,
          ignoreStrings: true,
          ignoreTemplateLiterals: true,
          ignoreRegExpLiterals: true,
          ignoreUrls: true,
          ignoreComments: false,
        },
      ],
      '@typescript-eslint/no-explicit-any': 'off',
      // A `using` declaration is there for its disposal (`await using run = startInProcess(id)`).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', caughtErrors: 'none', ignoreUsingDeclarations: true },
      ],
    },
  },
  // A persona's start: an ES import of node:http loads Node's bundled undici (see private/node-http.ts).
  {
    files: ['runtime/src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: ['node:http', 'http'].map((name) => ({
            name,
            allowTypeImports: true,
            message: 'Take it from nodeHttp() (private/node-http.ts): its ES import costs 30 ms of every start.',
          })),
        },
      ],
    },
  },
  // The starter, its generated components and the test apps, checked for phase mistakes as an
  // app's own lint would (typed: the plugin's rules need type information).
  {
    ...infra.configs.recommended,
    files: ['starter/src/**/*.ts', 'test/fixtures/*-app/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
  },
  // The dev dashboard's page runs in the browser.
  { files: ['runtime/dashboard/**/*.js'], languageOptions: { globals: { ...globals.browser } } },
);
