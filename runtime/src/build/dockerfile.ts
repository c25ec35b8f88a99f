/**
 * The app's Dockerfile, rendered from the handlebars template runtime/templates/Dockerfile.hbs.
 *
 * The template ships inside the runtime package (next to src/ and dist/), because the build
 * is runtime code: an app that installs `infra-generator` from npm has no copy of this
 * repository's root templates/ folder. It is found relative to this module, which is two
 * folders below the package in both src/build/ and dist/build/.
 */
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import Handlebars from 'handlebars';
import type { ProjectLayout } from './project.ts';

export const NODE_IMAGE = 'node:24-bookworm-slim';

export const dockerfileTemplatePath = new URL('../../templates/Dockerfile.hbs', import.meta.url);

let template: Handlebars.TemplateDelegate | undefined;

/** `COPY <from> <to>` lines that place each package.json where npm ci expects it, the root's with the lock file. */
function packageCopies(layout: ProjectLayout): { from: string; to: string }[] {
  return layout.packageFiles.map((file) => {
    const folder = posix.dirname(file);
    if (folder === '.') return { from: layout.hasLockFile ? 'package.json package-lock.json' : 'package.json', to: './' };
    return { from: file, to: `${folder}/` };
  });
}

export function renderDockerfile(root: string, layout: ProjectLayout): string {
  template ??= Handlebars.compile(readFileSync(dockerfileTemplatePath, 'utf8'), { noEscape: true, strict: true });
  return template({
    root,
    nodeImage: NODE_IMAGE,
    packageCopies: packageCopies(layout),
    compile: layout.compile,
    outputs: layout.outputs,
    // The exec form (a JSON array): node is the container's main process, under compose's init.
    command: JSON.stringify(layout.command),
  });
}
