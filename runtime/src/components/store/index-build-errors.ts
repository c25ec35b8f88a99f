/** What both backends say when an index cannot be built from the store's values. */
import { errors, messageOf, type InfraError } from '../../core/errors.ts';
import type { IndexDefinition } from './backend.ts';

/** The indexer threw for the stored value of `key`. */
export function indexerThrew(index: IndexDefinition, key: string, cause: unknown): InfraError {
  return errors.indexRebuildFailed(
    index.id.value,
    `its indexer threw for the stored value of key ${JSON.stringify(key)} (${messageOf(cause)}). ` +
      'Fix the indexer so that it takes every stored value, and restart; until then reads of the index fail and writes go on',
    cause,
  );
}
