/**
 * Generated files in the app's own style: Prettier formats each one with the configuration and
 * the ignore file that apply to its path (the repository's .prettierrc.json and .prettierignore),
 * so `npm run lint` passes on a fresh component whatever its name's length. Prettier is the
 * repository's development dependency; where it is not installed beside the generator, the files
 * are written as the templates render them. All of it happens before anything is written
 * (write-plan.ts), so a file Prettier cannot read leaves the app as it was.
 */
import { join, relative } from 'node:path';
import { errors } from './errors.ts';
import type { Plan } from './plan.ts';

type Prettier = typeof import('prettier');

async function loadPrettier(): Promise<Prettier | undefined> {
  try {
    return await import('prettier');
  } catch (err) {
    // Not installed: the templates' own layout. Installed and broken: say so.
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}

/**
 * `plan` with each file's content formatted; a change that formatting makes the same as the file
 * already is (the registry, regenerated) is left out. `repoRoot`: where .prettierignore is.
 */
export async function formatPlan(plan: Plan, repoRoot: string): Promise<Plan> {
  const prettier = await loadPrettier();
  if (prettier === undefined) return plan;
  const ignorePath = join(repoRoot, '.prettierignore');
  const writes = await Promise.all(
    plan.writes.map(async (write) => {
      const info = await prettier.getFileInfo(write.path, { ignorePath, resolveConfig: true });
      if (info.ignored || info.inferredParser === null) return write;
      const options = (await prettier.resolveConfig(write.path)) ?? {};
      try {
        return { ...write, content: await prettier.format(write.content, { ...options, filepath: write.path }) };
      } catch (err) {
        throw errors.formatFailed(relative(process.cwd(), write.path) || write.path, err);
      }
    }),
  );
  return { ...plan, writes: writes.filter((write) => write.content !== write.before) };
}
