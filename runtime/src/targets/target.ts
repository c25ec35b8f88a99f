/** Which deployment the build writes files for: `--target compose` (the default) or `--target kubernetes`. */
export const TARGETS = ['compose', 'kubernetes'] as const;
export type Target = (typeof TARGETS)[number];
