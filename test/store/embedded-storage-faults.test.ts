/**
 * Recognising storage faults among lmdb-js' errors (src/store/embedded/storage-faults.ts):
 * a failed commit is `Error('Commit failed ...')` whose `commitError` is a promise rejected
 * with the cause (its `code` the errno number); fs errors carry errno names. Anything else —
 * a bug, a conflict — is not a storage fault and must stay a 500 or its own answer.
 */
import { describe, expect, it } from 'vitest';
import { commitCause, storageFault } from '../../src/store/embedded/storage-faults.js';
import { VersionConflict } from '../../src/store/resource-store.js';

function lmdbCommitFailure(code: number, message: string): Error {
  const cause = Object.assign(new Error(message), { code });
  const failure = new Error('Commit failed (see commitError for details)') as Error & { commitError: Promise<never> };
  failure.commitError = Promise.reject(cause);
  return failure;
}

describe('storage faults', () => {
  it('unwraps an lmdb-js commit failure to its cause and names it', async () => {
    expect(storageFault(await commitCause(lmdbCommitFailure(28, 'No space left on device: Attempting to write page')))).toMatchObject({ code: 'ENOSPC' });
    expect(storageFault(await commitCause(lmdbCommitFailure(5, 'Input/output error')))).toMatchObject({ code: 'EIO' });
    expect(storageFault(await commitCause(lmdbCommitFailure(30, 'Read-only file system')))).toMatchObject({ code: 'EROFS' });
    expect(storageFault(await commitCause(lmdbCommitFailure(-30792, 'MDB_MAP_FULL')))).toMatchObject({ code: 'MDB_MAP_FULL' });
  });

  it('names fs errors by their code', () => {
    expect(storageFault(Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE', errno: -24 }))).toMatchObject({ code: 'EMFILE' });
    expect(storageFault(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }))).toMatchObject({ code: 'EACCES' });
  });

  it('leaves everything else alone', async () => {
    expect(storageFault(new VersionConflict('Patient', 'p', 1, 2))).toBeUndefined();
    expect(storageFault(new TypeError('x is undefined'))).toBeUndefined();
    expect(storageFault(Object.assign(new Error('no such key'), { code: 'ENOENT' }))).toBeUndefined();
    expect(storageFault(undefined)).toBeUndefined();
    // An error that is not an lmdb-js commit failure is its own cause.
    const plain = new Error('plain');
    expect(await commitCause(plain)).toBe(plain);
  });
});
