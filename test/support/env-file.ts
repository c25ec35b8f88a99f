/**
 * Reads a generated env file (build/env/<service>.env) back as docker compose does for what
 * env-files.ts writes: `NAME=value` lines, a value in single quotes taken literally.
 */
import { readFileSync } from 'node:fs';

export function readEnvFile(path: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => /^[A-Za-z_]\w*=/.test(line))
      .map((line) => {
        const at = line.indexOf('=');
        return [line.slice(0, at), line.slice(at + 1).replace(/^'(.*)'$/, '$1')];
      }),
  );
}
