/**
 * Whether `text` can be a key in every mode: PostgreSQL text holds neither NUL nor an unpaired
 * surrogate (the driver would turn one into U+FFFD, merging keys), so the memory store refuses
 * them too and both modes agree.
 */
export function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && text.isWellFormed();
}
