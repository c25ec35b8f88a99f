/**
 * `infra-generator/no-component-at-runtime`: a component made inside code that runs at runtime
 * (an endpoint's handler, a deploy task's or a worker's body, an indexer, a modify() function).
 * The app's tree is built at startup, the same in every process, and the build writes the
 * deployment from it; a component made later is in no tree, no build and no fingerprint, and the
 * runtime refuses it when the call runs (INFRA_TREE_FROZEN). This finds it in the editor instead.
 *
 * What counts, by type information rather than by name, so that aliases, re-exports and an app's
 * own subclasses are recognised: `new` of any of infra-generator's Component classes (Store,
 * ApiServer, Worker, DeployTask, an index, a Secret, …), `onDeploy()`, `defineEndpoint()` and
 * `rootId()`. Where: lexically inside a function given as one of those runtime callbacks, in the
 * same file (a function declared elsewhere and passed by name is followed to its declaration
 * when that is in the file being linted). A helper called from a handler is not followed.
 */
import type { TSESTree } from '@typescript-eslint/utils';
import { analysePhases, createRule } from './phases.ts';

const MAKERS = new Set(['onDeploy', 'defineEndpoint', 'rootId']);

export const noComponentAtRuntime = createRule({
  name: 'no-component-at-runtime',
  meta: {
    type: 'problem',
    docs: { description: 'Components are made at startup, never in code that runs at runtime' },
    messages: {
      atRuntime:
        '{{made}} inside {{where}}: that code runs at runtime, after the app was built and fingerprinted, so the ' +
        'component would be in no build and no deployment (the runtime refuses it when it runs: INFRA_TREE_FROZEN). ' +
        'Make it at startup: at module top level, or in a function called from there before runPersona().',
      appAtRuntime:
        '{{made}} inside {{where}}: an app made at runtime is never built, deployed or run. Make every app at ' +
        'startup, at module top level.',
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    const phases = analysePhases(context);
    const made: { node: TSESTree.Node; made: string; app: boolean }[] = [];
    const text = (node: TSESTree.Node) => context.sourceCode.getText(node);
    const first = (node: TSESTree.CallExpression | TSESTree.NewExpression) =>
      node.arguments[0] ? text(node.arguments[0]) : '';

    return {
      NewExpression(node) {
        phases.visitors.NewExpression(node);
        if (phases.isComponent(node)) made.push({ node, made: `new ${text(node.callee)}(${first(node)})`, app: false });
      },
      CallExpression(node) {
        phases.visitors.CallExpression(node);
        const called = phases.callee(node);
        if (called?.ours && MAKERS.has(called.name))
          made.push({ node, made: `${text(node.callee)}(${first(node)})`, app: called.name === 'rootId' });
      },
      'Program:exit'() {
        for (const { node, made: what, app } of made) {
          for (let at: TSESTree.Node | undefined = node.parent; at; at = at.parent) {
            const where = phases.callbacks.get(at);
            if (where === undefined) continue;
            context.report({ node, messageId: app ? 'appAtRuntime' : 'atRuntime', data: { made: what, where } });
            break;
          }
        }
      },
    };
  },
});
