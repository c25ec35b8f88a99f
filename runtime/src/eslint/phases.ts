/**
 * What both phase rules need to know of a file: which of its functions run at runtime (given to
 * one of the runtime's callback-taking calls), which run at startup (called from the module's
 * top level, before runPersona(), or from another such function), and what a call or a `new`
 * of the runtime's is. From type information: the runtime's symbols are recognised by the
 * package that declares them (ours.ts), however an app imports them.
 */
import { ESLintUtils, type TSESTree } from '@typescript-eslint/utils';
import type { RuleContext } from '@typescript-eslint/utils/ts-eslint';
import ts from 'typescript';
import { isOurFile, isOurs, ourClassOf } from './ours.ts';

export const createRule = ESLintUtils.RuleCreator(
  (name) => `https://github.com/infra-generator/infra-generator/blob/main/README.md#eslint-${name}`,
);

/** The runtime callbacks of calls: which argument of which function or method, and what a message calls it. */
const CALLBACKS: Record<string, { argument: number; what: string }> = {
  defineEndpoint: { argument: 1, what: "an endpoint's handler" },
  onDeploy: { argument: 1, what: "a deploy task's body" },
  modify: { argument: 1, what: 'a modify() function' },
};
/** The same, of constructors. */
const CONSTRUCTED_CALLBACKS: Record<string, { argument: number; what: string }> = {
  Worker: { argument: 1, what: "a worker's body" },
  DeployTask: { argument: 1, what: "a deploy task's body" },
  // new store.Index(id, indexer); new StoreIndex(store, id, indexer).
  StoreIndex: { argument: 2, what: 'an indexer' },
};
const CALLBACK_FUNCTIONS = new Set(Object.keys(CALLBACKS));
const CALLBACK_CLASSES = new Set(Object.keys(CONSTRUCTED_CALLBACKS));
const COMPONENT = new Set(['Component']);
const RUN_PERSONA = new Set(['runPersona']);

export type FunctionNode =
  TSESTree.ArrowFunctionExpression | TSESTree.FunctionExpression | TSESTree.FunctionDeclaration;

const isFunction = (node: TSESTree.Node): node is FunctionNode =>
  node.type === 'ArrowFunctionExpression' || node.type === 'FunctionExpression' || node.type === 'FunctionDeclaration';

/** The nearest function `node` is inside, or undefined at module level. */
export function enclosingFunction(node: TSESTree.Node): FunctionNode | undefined {
  for (let at = node.parent; at; at = at.parent) if (isFunction(at)) return at;
  return undefined;
}

/** A call's target as the type checker resolves it: its name, and whether it is the runtime's. */
export interface Callee {
  readonly name: string;
  /** The class (or interface) that declares it, when a method. */
  readonly owner: string | undefined;
  readonly ours: boolean;
}

/** What each call resolves to, by node: the rules of one lint share the file's nodes. */
const callees = new WeakMap<TSESTree.CallExpression, Callee | undefined>();

export function analysePhases(context: Readonly<RuleContext<string, readonly unknown[]>>) {
  const services = ESLintUtils.getParserServices(context);
  const checker = services.program.getTypeChecker();
  /** Functions run at runtime, with what a message calls them. */
  const callbacks = new Map<TSESTree.Node, string>();
  /** Every call of a function declared in this file: the call, and the function it runs. */
  const localCalls: { call: TSESTree.Node; target: FunctionNode }[] = [];
  /**
   * Where the first statement that calls runPersona() starts, by the function (or the module) it
   * is in: the statements from it on run after startup.
   */
  const runStarts = new Map<TSESTree.Node, number>();

  /** The function a name or expression stands for, when it is declared in this file. */
  const localFunction = (node: TSESTree.Node): FunctionNode | undefined => {
    if (isFunction(node)) return node;
    if (node.type !== 'Identifier') return undefined;
    for (const declaration of services.getSymbolAtLocation(node)?.declarations ?? []) {
      const fn = ts.isVariableDeclaration(declaration) ? declaration.initializer : declaration;
      if (fn === undefined || !ts.isFunctionLike(fn)) continue;
      const found = services.tsNodeToESTreeNodeMap.get(fn as ts.Node);
      if (found !== undefined && isFunction(found)) return found;
    }
    return undefined;
  };

  const markCallback = (argument: TSESTree.Node | undefined, what: string) => {
    const fn = argument === undefined ? undefined : localFunction(argument);
    if (fn !== undefined) callbacks.set(fn, what);
  };

  const callee = (node: TSESTree.CallExpression): Callee | undefined => {
    // Each rule asks of each call, and its own visitors too: resolved once per call per lint.
    if (callees.has(node)) return callees.get(node);
    const declaration = checker.getResolvedSignature(services.esTreeNodeToTSNodeMap.get(node))?.getDeclaration();
    let found: Callee | undefined;
    if (declaration !== undefined && declaration.name !== undefined && ts.isIdentifier(declaration.name)) {
      const owner =
        ts.isClassLike(declaration.parent) || ts.isInterfaceDeclaration(declaration.parent)
          ? declaration.parent.name?.text
          : undefined;
      found = { name: declaration.name.text, owner, ours: isOurFile(declaration.getSourceFile().fileName) };
    }
    callees.set(node, found);
    return found;
  };

  /** The statement of `scope` (a function, or the module) that holds `node`. */
  const statementIn = (node: TSESTree.Node, scope: TSESTree.Node): TSESTree.Node => {
    // A function's block, or the expression of an arrow's concise body; the module itself.
    const container = isFunction(scope) ? scope.body : scope;
    let at = node;
    while (at !== container && at.parent !== undefined && at.parent !== container) at = at.parent;
    return at;
  };
  /** Whether `node` comes before its function's (or the module's) runPersona() call, if it has one. */
  const beforeRun = (node: TSESTree.Node, scope: TSESTree.Node): boolean => {
    const start = runStarts.get(scope);
    return start === undefined || statementIn(node, scope).range[0] < start;
  };

  /** Functions run at startup: called at module level before runPersona(), or from another such function. */
  const startupFunctions = new Set<FunctionNode>();
  /** Whether `node` runs at startup: at module level or in a startup function, before a runPersona() there. */
  const runsAtStartup = (node: TSESTree.Node): boolean => {
    const fn = enclosingFunction(node);
    const scope = fn ?? context.sourceCode.ast;
    return (fn === undefined || startupFunctions.has(fn)) && beforeRun(node, scope);
  };

  return {
    services,
    callbacks,
    callee,
    runsAtStartup,
    /** The startup function `node` is in, if it is in one (for messages). */
    startupFunctionOf(node: TSESTree.Node): FunctionNode | undefined {
      const fn = enclosingFunction(node);
      return fn !== undefined && startupFunctions.has(fn) ? fn : undefined;
    },
    isComponent(node: TSESTree.NewExpression): boolean {
      return ourClassOf(checker, services.getTypeAtLocation(node), COMPONENT) !== undefined;
    },
    /** Whether an expression's type is one of the runtime's named `names` (a type alias counts). */
    typeIsOurs(node: TSESTree.Node, names: ReadonlySet<string>): boolean {
      const type = services.getTypeAtLocation(node);
      return isOurs(checker, type.aliasSymbol, names) || isOurs(checker, type.getSymbol(), names);
    },
    /** Visitors to merge into a rule's: they find the callbacks and the startup functions. */
    visitors: {
      NewExpression(node: TSESTree.NewExpression) {
        const kind = ourClassOf(checker, services.getTypeAtLocation(node), CALLBACK_CLASSES);
        if (kind === undefined) return;
        const { argument, what } = CONSTRUCTED_CALLBACKS[kind];
        // The bound constructor (store.Index) takes no store: its indexer comes one earlier.
        const bound = kind === 'StoreIndex' && node.callee.type === 'MemberExpression';
        markCallback(node.arguments[bound ? argument - 1 : argument], what);
      },
      CallExpression(node: TSESTree.CallExpression) {
        const target = localFunction(node.callee);
        if (target !== undefined) localCalls.push({ call: node, target });
        const called = callee(node);
        if (called === undefined || !called.ours) return;
        if (CALLBACK_FUNCTIONS.has(called.name)) {
          const { argument, what } = CALLBACKS[called.name];
          markCallback(node.arguments[argument], what);
        }
        if (RUN_PERSONA.has(called.name)) {
          const scope = enclosingFunction(node) ?? context.sourceCode.ast;
          if (!runStarts.has(scope)) runStarts.set(scope, statementIn(node, scope).range[0]);
        }
      },
    },
    /** Finds the startup functions; call at Program:exit, before runsAtStartup. */
    settle(): void {
      for (let changed = true; changed;) {
        changed = false;
        for (const { call, target } of localCalls)
          if (!startupFunctions.has(target) && !callbacks.has(target) && runsAtStartup(call)) {
            startupFunctions.add(target);
            changed = true;
          }
      }
    },
  };
}
