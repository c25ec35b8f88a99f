/**
 * Paths as the generated files write them: relative to the project root, with `/`, so that
 * compose.yaml and the Dockerfile work from any checkout of the repository.
 */
import { isAbsolute, relative, sep } from 'node:path';

/** `path` relative to `projectRoot` with `/` separators, or undefined when it lies outside. */
export function inProject(projectRoot: string, path: string): string | undefined {
  const rel = relative(projectRoot, path);
  if (rel === '') return '.';
  if (rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel)) return undefined;
  return rel.split(sep).join('/');
}

/** `path` as compose.yaml (at the project root) refers to it: relative when inside the project. */
export function composePath(projectRoot: string, path: string): string {
  return inProject(projectRoot, path) ?? path;
}
