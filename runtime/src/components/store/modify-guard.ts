/**
 * Refuses a write of a key from inside the function of a modify() of the same key and store.
 * That write would queue behind the modify, which waits for its function, which waits for the
 * write: a hang for the life of the process, holding the key (and deployed, a pooled connection
 * and a row lock). Checked by the Store facade, so every backend refuses it alike and at once.
 *
 * The modify()s whose function is running are found through AsyncLocalStorage, so a write made
 * anywhere the function's work reaches (after an await, in a callee, in a nested modify of
 * another key) is seen. A frame ends when its function has returned: a write the function
 * started without waiting for it, made after that, just waits for the modify to finish and then
 * runs, as any later write would, so it is not refused. Reads are never refused: they take no
 * lock and see the value from before the modify.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { errors } from '../../core/errors.ts';

interface Frame {
  readonly store: object;
  readonly key: string;
  running: boolean;
  /** The modify whose function this one was called from, if any. */
  readonly outer: Frame | undefined;
}

const frames = new AsyncLocalStorage<Frame>();

/** Runs modify()'s function `fn` for `key` of `store` (the Store object: its identity). */
export async function runModifyFunction<R>(store: object, key: string, fn: () => R | Promise<R>): Promise<R> {
  const frame: Frame = { store, key, running: true, outer: frames.getStore() };
  try {
    return await frames.run(frame, fn);
  } finally {
    frame.running = false;
  }
}

/** Throws when `call` (`set`, `del`, `modify`) of `key` runs inside a running modify function of that key. */
export function refuseWriteInsideModify(store: object, storeId: string, call: string, key: string): void {
  for (let frame = frames.getStore(); frame; frame = frame.outer)
    if (frame.running && frame.store === store && frame.key === key) throw errors.modifyReentrant(storeId, call, key);
}
