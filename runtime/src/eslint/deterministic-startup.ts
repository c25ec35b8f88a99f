/**
 * `infra-generator/deterministic-startup`: a value that differs between processes (the time, a
 * random number, the host, the process, an environment variable) reaching an ID or a component's
 * options at startup. The build and every persona run the startup code apart and must build the
 * same tree; a tree that differs from the build's stops a deployed persona (INFRA_TREE_DRIFT),
 * and a random ID names a new database at every start.
 *
 * Where: the expressions of an ID's template (id`orders-${…}`), the arguments of id(), id.child()
 * and rootId(), and the arguments other than functions of a component's constructor,
 * defineEndpoint() and onDeploy(), in code that runs at startup (phases.ts). What: a call of
 * Math.random, Date.now, performance.now, process.hrtime or uptime, crypto's random functions,
 * os.hostname; `new Date()`; process.pid, ppid and env reads (the rule's `allowEnv` option
 * names variables that are the same in every process of a deployment). Followed through the
 * `const`s and `let`s of the file that hold one, not through function parameters.
 */
import type { TSESTree } from '@typescript-eslint/utils';
import { analysePhases, createRule } from './phases.ts';

const ID = new Set(['ID']);
const ID_TAKERS = new Set(['rootId']);
const OPTION_TAKERS = new Set(['defineEndpoint', 'onDeploy']);

/** Calls whose result differs between processes, by their callee's text. */
const VARYING_CALLS = new Set([
  'Math.random',
  'Date.now',
  'performance.now',
  'process.hrtime',
  'process.hrtime.bigint',
  'process.uptime',
  'crypto.randomUUID',
  'crypto.randomBytes',
  'crypto.randomInt',
  'crypto.getRandomValues',
  'os.hostname',
  'randomUUID',
  'randomBytes',
  'randomInt',
  'hostname',
]);
const VARYING_PROCESS_FIELDS = new Set(['pid', 'ppid']);

/** A node's child nodes (its AST properties that are nodes, or arrays of them). */
function children(node: TSESTree.Node): TSESTree.Node[] {
  const found: TSESTree.Node[] = [];
  for (const key of Object.keys(node) as (keyof typeof node)[]) {
    if (key === 'parent') continue;
    const child = node[key] as unknown;
    for (const item of Array.isArray(child) ? child : [child])
      if (item !== null && typeof item === 'object' && typeof (item as TSESTree.Node).type === 'string')
        found.push(item as TSESTree.Node);
  }
  return found;
}

export const deterministicStartup = createRule({
  name: 'deterministic-startup',
  meta: {
    type: 'problem',
    docs: { description: "IDs and components' options are the same in every process" },
    messages: {
      varies:
        '{{source}} reaches {{sink}} at startup, but it differs between processes: the build and each persona run ' +
        'this code apart and must build the same tree (a deployed persona whose tree differs stops: ' +
        'INFRA_TREE_DRIFT; a random ID names a new database at every start). Use a constant, or a build-time value.',
    },
    schema: [
      {
        type: 'object',
        properties: { allowEnv: { type: 'array', items: { type: 'string' } } },
        additionalProperties: false,
      },
    ],
  },
  defaultOptions: [{ allowEnv: [] as string[] }],
  create(context, [{ allowEnv }]) {
    const phases = analysePhases(context);
    const allowed = new Set(allowEnv);
    const text = (node: TSESTree.Node) => context.sourceCode.getText(node);
    /** Expressions that reach an ID or options, with what the message calls their destination. */
    const sinks: { node: TSESTree.Node; sink: string }[] = [];

    /** The first varying value in `node`, following the file's variables; its text. */
    const varying = (node: TSESTree.Node, seen: Set<TSESTree.Node>): string | undefined => {
      if (seen.has(node)) return undefined;
      seen.add(node);
      switch (node.type) {
        case 'CallExpression':
          if (VARYING_CALLS.has(text(node.callee))) return `${text(node.callee)}()`;
          break;
        case 'NewExpression':
          if (text(node.callee) === 'Date' && node.arguments.length === 0) return 'new Date()';
          break;
        case 'MemberExpression': {
          const object = text(node.object);
          const property = node.computed ? undefined : (node.property as TSESTree.Identifier).name;
          if (object === 'process' && property !== undefined && VARYING_PROCESS_FIELDS.has(property))
            return `process.${property}`;
          if (object === 'process.env') {
            const name =
              property ??
              (node.property.type === 'Literal' && typeof node.property.value === 'string'
                ? node.property.value
                : undefined);
            if (name === undefined || !allowed.has(name)) return text(node);
          }
          break;
        }
        case 'Identifier': {
          // An ID made from a varying value is reported where it is made, not at each use.
          if (phases.typeIsOurs(node, ID)) return undefined;
          for (const declaration of phases.services.getSymbolAtLocation(node)?.declarations ?? []) {
            const declarator = phases.services.tsNodeToESTreeNodeMap.get(declaration);
            if (declarator?.type === 'VariableDeclarator' && declarator.init) {
              const found = varying(declarator.init, seen);
              if (found !== undefined) return found;
            }
          }
          return undefined;
        }
      }
      // Functions passed along are not values of the tree.
      if (
        node.type === 'ArrowFunctionExpression' ||
        node.type === 'FunctionExpression' ||
        node.type === 'FunctionDeclaration'
      )
        return undefined;
      for (const child of children(node)) {
        const found = varying(child, seen);
        if (found !== undefined) return found;
      }
      return undefined;
    };

    /** The varying value in `node` and where in it it shows (itself, or the variable that holds it). */
    const varyingIn = (node: TSESTree.Node): { source: string; at: TSESTree.Node } | undefined => {
      const source = varying(node, new Set());
      if (source === undefined) return undefined;
      // The innermost child that still holds it: the place to point at.
      let at = node;
      for (let deeper = true; deeper;) {
        deeper = false;
        for (const child of children(at))
          if (varying(child, new Set()) !== undefined) {
            at = child;
            deeper = true;
            break;
          }
      }
      return { source, at };
    };

    const addArguments = (node: TSESTree.CallExpression | TSESTree.NewExpression, sink: string) => {
      for (const argument of node.arguments)
        if (argument.type !== 'ArrowFunctionExpression' && argument.type !== 'FunctionExpression')
          sinks.push({ node: argument, sink });
    };

    return {
      NewExpression(node) {
        phases.visitors.NewExpression(node);
        if (phases.isComponent(node)) addArguments(node, `new ${text(node.callee)}()`);
      },
      CallExpression(node) {
        phases.visitors.CallExpression(node);
        const called = phases.callee(node);
        if (called?.ours && (ID_TAKERS.has(called.name) || OPTION_TAKERS.has(called.name)))
          addArguments(node, `${text(node.callee)}()`);
        else if (called?.ours && called.name === 'child' && called.owner === 'ID') addArguments(node, 'an ID');
        else if (phases.typeIsOurs(node.callee, ID)) addArguments(node, 'an ID');
      },
      TaggedTemplateExpression(node) {
        if (phases.typeIsOurs(node.tag, ID))
          for (const expression of node.quasi.expressions) sinks.push({ node: expression, sink: 'an ID' });
      },
      'Program:exit'() {
        phases.settle();
        // Innermost first (an ID's template inside a constructor's arguments), each place told once.
        const told = new Set<TSESTree.Node>();
        for (const { node, sink } of sinks.reverse()) {
          if (!phases.runsAtStartup(node)) continue;
          const found = varyingIn(node);
          if (found === undefined || told.has(found.at)) continue;
          told.add(found.at);
          context.report({ node: found.at, messageId: 'varies', data: { source: found.source, sink } });
        }
      },
    };
  },
});
