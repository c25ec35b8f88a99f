/**
 * The runtime's architecture, checked (`npm run check:architecture`, run by CI): folders that
 * do not import each other in a circle, modes that do not import other modes, targets that do
 * not import other targets. See docs/architecture.md.
 */
const src = '^runtime/src/';

/**
 * The layers, bottom first: a folder may import its own layer's folders and the ones below, never
 * one above (so no two folders import each other, directly or round a circle). targets/ and
 * resources/ share a layer but do not import each other.
 */
const layers = [['private'], ['core'], ['values'], ['components'], ['plan'], ['targets', 'resources'], ['modes']];
const layerRules = layers.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer.join('-')}`,
  comment: `${layer.join(' and ')} may not import a layer above it (${layers
    .slice(i + 1)
    .flat()
    .join(', ')}).`,
  severity: 'error',
  from: { path: `${src}(${layer.join('|')})/` },
  to: {
    path: `${src}(${layers
      .slice(i + 1)
      .flat()
      .join('|')})/`,
  },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'targets-and-resources-apart',
      comment: 'targets/ and resources/ share a layer and do not import each other.',
      severity: 'error',
      from: { path: `${src}(targets|resources)/` },
      to: { path: `${src}(targets|resources)/`, pathNot: `${src}$1/` },
    },
    {
      name: 'eslint-plugin-apart',
      comment:
        'eslint/ (the ESLint plugin, an entry point of its own) imports nothing of the runtime, nor the runtime it: ' +
        'linting must not load the runtime, nor a persona the linter.',
      severity: 'error',
      from: { path: `${src}eslint/` },
      to: { path: src, pathNot: `${src}eslint/` },
    },
    {
      name: 'nothing-imports-the-eslint-plugin',
      severity: 'error',
      from: { path: src, pathNot: `${src}eslint/` },
      to: { path: `${src}eslint/` },
    },
    {
      name: 'no-folder-cycles',
      comment: 'Folders of runtime/src must not depend on each other in a circle (type-only imports count too).',
      severity: 'error',
      from: { path: `${src}([^/]+)/` },
      to: { circular: true, pathNot: `${src}$1/` },
    },
    {
      name: 'no-runtime-cycles',
      comment:
        'No module may load itself through others. Type-only imports do not count here: inside a folder an interface and ' +
        'its implementation may name each other (the app names its components, a component its app).',
      severity: 'error',
      from: { path: src },
      to: { circular: true, dependencyTypesNot: ['type-only'], viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'modes-are-independent',
      comment: 'No mode imports another mode (modes/<mode>/ may use modes/*.ts, the shared command line and dispatch).',
      severity: 'error',
      from: { path: `${src}modes/([^/]+)/` },
      to: { path: `${src}modes/[^/]+/`, pathNot: `${src}modes/$1/` },
    },
    {
      name: 'targets-are-independent',
      comment: 'No target imports another target (targets/<target>/ may use targets/*.ts).',
      severity: 'error',
      from: { path: `${src}targets/([^/]+)/` },
      to: { path: `${src}targets/[^/]+/`, pathNot: `${src}targets/$1/` },
    },
    {
      name: 'core-depends-on-nothing-above-it',
      comment: 'core/ is the bottom layer: it imports only itself and private/.',
      severity: 'error',
      from: { path: `${src}core/` },
      to: { path: src, pathNot: [`${src}core/`, `${src}private/`] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
