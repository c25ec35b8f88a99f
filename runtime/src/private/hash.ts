import { createHash } from 'node:crypto';

/** A short, stable hash of `text`: 8 lowercase base-32 characters (40 bits). */
export function shortHash(text: string): string {
  const digest = createHash('sha256').update(text).digest();
  let bits = 0n;
  for (let i = 0; i < 5; i++) bits = (bits << 8n) | BigInt(digest[i]);
  return bits.toString(32).padStart(8, '0');
}
