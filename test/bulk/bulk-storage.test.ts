/**
 * The bulk storage contract on a folder (embedded store deployments);
 * bulk-storage-mongo.test.ts runs it on MongoDB.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BulkStorage } from '../../src/bulk/bulk-storage.js';
import { DirectoryBulkStorage } from '../../src/bulk/directory-bulk-storage.js';
import { describeBulkStorageContract } from './bulk-storage-contract.js';

describeBulkStorageContract('directory', () => {
  const opened: Array<{ storage: BulkStorage; dir: string }> = [];
  return {
    async create() {
      const dir = mkdtempSync(join(tmpdir(), 'relais-bulk-'));
      const storage = new DirectoryBulkStorage(dir);
      await storage.open();
      opened.push({ storage, dir });
      return storage;
    },
    async reopen(storage) {
      const { dir } = opened.find((o) => o.storage === storage)!;
      await storage.close();
      const next = new DirectoryBulkStorage(dir);
      await next.open();
      opened.push({ storage: next, dir });
      return next;
    },
    async dispose() {
      for (const { storage, dir } of opened.splice(0)) {
        await storage.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
});
