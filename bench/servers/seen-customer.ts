/**
 * The handler's answer as an output schema, for the API bench's row that measures what one
 * costs. A module of its own so that the persona loads TypeBox only for that row: importing
 * `typebox` loads some 370 modules, which the cold start row (an app without schemas, as
 * measured before output schemas existed) is not meant to count.
 */
import { Type } from 'typebox';

export const SeenCustomer = Type.Object({
  id: Type.String(),
  name: Type.String(),
  tags: Type.Array(Type.String()),
  seen: Type.Boolean(),
});
