/**
 * Generated files in the app's own style: Prettier formats each one with the configuration that
 * applies to its path (the repository's .prettierrc.json), so `npm run lint` passes on a fresh
 * component whatever its name's length. An app without Prettier installed gets the files as the
 * templates render them. All of it happens before anything is written (write-plan.ts).
 */
import type { Plan } from './plan.ts';

type Prettier = typeof import('prettier');

async function loadPrettier(): Promise<Prettier | undefined> {
  try {
    return await import('prettier');
  } catch {
    return undefined;
  }
}

/**
 * `plan` with each file's content formatted; a change that formatting makes the same as the file
 * already is (the registry, regenerated) is left out.
 */
export async function formatPlan(plan: Plan): Promise<Plan> {
  const prettier = await loadPrettier();
  if (prettier === undefined) return plan;
  const writes = await Promise.all(
    plan.writes.map(async (write) => {
      const info = await prettier.getFileInfo(write.path, { resolveConfig: true });
      if (info.ignored || info.inferredParser === null) return write;
      const options = (await prettier.resolveConfig(write.path)) ?? {};
      return { ...write, content: await prettier.format(write.content, { ...options, filepath: write.path }) };
    }),
  );
  return { ...plan, writes: writes.filter((write) => write.content !== write.before) };
}
