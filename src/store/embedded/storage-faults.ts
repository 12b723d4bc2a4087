/**
 * Recognising the failures of the storage underneath the embedded store (a full
 * disk, a folder made read-only, an I/O error, no file descriptor left) among
 * the errors lmdb-js reports, so the store can refuse writes with a 503 and
 * retry by itself instead of failing requests with a 500.
 *
 * lmdb-js rejects a failed commit with `Error('Commit failed (see commitError
 * for details)')` whose `commitError` is a *promise* rejected with the cause (an
 * Error whose `code` is the errno number, e.g. 28 for ENOSPC). That promise must
 * be handled, or Node stops the process on an unhandled rejection: every catch
 * of an lmdb write goes through `commitCause`.
 */
import { constants } from 'node:os';

/** errno names that mean "the storage cannot take this write now", not "this write is wrong". */
const FAULT_NAMES = ['ENOSPC', 'EDQUOT', 'EIO', 'EACCES', 'EPERM', 'EROFS', 'EMFILE', 'ENFILE', 'ENOMEM'] as const;
/** LMDB's own codes for the same situations: MDB_MAP_FULL, MDB_PANIC (a fatal error left the environment unusable). */
const MDB_MAP_FULL = -30792;
export const MDB_PANIC = -30795;

const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([name, code]) => [code, name]));

export interface StorageFault {
  /** errno name (ENOSPC...) or LMDB's (MDB_MAP_FULL, MDB_PANIC). */
  code: string;
  message: string;
}

/** The cause of a failed lmdb-js commit (awaiting its commitError), or the error itself. */
export async function commitCause(error: unknown): Promise<unknown> {
  const pending = (error as { commitError?: Promise<unknown> } | undefined)?.commitError;
  if (pending && typeof pending.then === 'function') {
    try {
      await pending;
    } catch (cause) {
      return cause;
    }
  }
  return error;
}

/** Marks an lmdb-js commit failure handled without waiting (for writes nobody awaits). */
export function settleQuietly(error: unknown): void {
  commitCause(error).catch(() => undefined);
}

/** The storage fault an error stands for, or undefined when it is something else (a bug, a conflict). */
export function storageFault(error: unknown): StorageFault | undefined {
  if (!error || typeof error !== 'object') return undefined;
  const { code, errno, message } = error as { code?: unknown; errno?: unknown; message?: unknown };
  let name: string | undefined;
  if (typeof code === 'string') name = code;
  else if (typeof code === 'number') name = code === MDB_MAP_FULL ? 'MDB_MAP_FULL' : code === MDB_PANIC ? 'MDB_PANIC' : errnoNames.get(code);
  else if (typeof errno === 'number') name = errnoNames.get(Math.abs(errno));
  if (!name && typeof message === 'string') name = FAULT_NAMES.find((n) => message.includes(n)) ?? (/No space left on device/.test(message) ? 'ENOSPC' : undefined);
  if (!name) return undefined;
  const known = (FAULT_NAMES as readonly string[]).includes(name) || name === 'MDB_MAP_FULL' || name === 'MDB_PANIC';
  return known ? { code: name, message: typeof message === 'string' ? message : name } : undefined;
}
