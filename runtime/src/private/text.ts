/** How much of a caller's text (a URL, a method, a JSON path) a message repeats. */
const MAX_ECHO = 200;

/** `text`, cut to at most 200 characters (and an ellipsis) so a message stays readable. */
export function shorten(text: string): string {
  return text.length > MAX_ECHO ? `${text.slice(0, MAX_ECHO)}…` : text;
}
