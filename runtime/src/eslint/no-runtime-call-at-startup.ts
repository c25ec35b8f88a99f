/**
 * `infra-generator/no-runtime-call-at-startup`: a runtime call (a Store's or an index's
 * operations, an endpoint's client, a build-time value's get()) in code that runs at startup:
 * at module top level before runPersona(), or in a function of the same file called from there
 * (the proof of concept's components are made that way, by functions such as
 * createCustomerServer). At startup the app is still building its tree; the runtime refuses such
 * a call when it runs (INFRA_WRONG_PHASE). A function not called in its file (exported, passed
 * elsewhere) is not followed: what calls it is unknown here, so nothing is said.
 */
import type { TSESTree } from '@typescript-eslint/utils';
import { analysePhases, createRule } from './phases.ts';

const STORE_OPERATIONS = new Set(['get', 'set', 'del', 'modify', 'getMany', 'setMany', 'entries', 'allKeys']);
const STORE_CLASSES = new Set(['Store', 'StoreIndex']);
const VALUE_CLASSES = new Set(['BuildTimeValue']);
const ENDPOINT_CLIENT = new Set(['EndpointClient']);

export const noRuntimeCallAtStartup = createRule({
  name: 'no-runtime-call-at-startup',
  meta: {
    type: 'problem',
    docs: { description: 'Runtime calls (Store operations, endpoint calls, value.get()) are made at runtime' },
    messages: {
      atStartup:
        '{{call}} at startup{{via}}: a runtime call, but while this code runs the app is still building its tree ' +
        '(the runtime refuses it when it runs: INFRA_WRONG_PHASE). Make it in an endpoint handler, a deploy task or ' +
        'a worker, or after runPersona().',
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    const phases = analysePhases(context);
    const calls: TSESTree.CallExpression[] = [];
    const isRuntimeCall = (node: TSESTree.CallExpression): boolean => {
      const called = phases.callee(node);
      if (called?.ours) {
        if (called.owner !== undefined && STORE_CLASSES.has(called.owner) && STORE_OPERATIONS.has(called.name))
          return true;
        if (called.owner !== undefined && VALUE_CLASSES.has(called.owner) && called.name === 'get') return true;
      }
      return phases.typeIsOurs(node.callee, ENDPOINT_CLIENT);
    };

    return {
      NewExpression: phases.visitors.NewExpression,
      CallExpression(node) {
        phases.visitors.CallExpression(node);
        if (isRuntimeCall(node)) calls.push(node);
      },
      'Program:exit'() {
        phases.settle();
        for (const node of calls) {
          if (!phases.runsAtStartup(node)) continue;
          const fn = phases.startupFunctionOf(node);
          const name =
            fn?.type === 'FunctionDeclaration'
              ? fn.id?.name
              : fn?.parent.type === 'VariableDeclarator' && fn.parent.id.type === 'Identifier'
                ? fn.parent.id.name
                : undefined;
          const via =
            fn === undefined ? '' : ` (in ${name === undefined ? 'a function' : `${name}()`}, which runs at startup)`;
          context.report({
            node,
            messageId: 'atStartup',
            data: { call: `${context.sourceCode.getText(node.callee)}()`, via },
          });
        }
      },
    };
  },
});
