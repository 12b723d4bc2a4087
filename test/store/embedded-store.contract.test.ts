/**
 * The store contract against the embedded journal store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.js';
import type { ResourceStore } from '../../src/store/resource-store.js';
import { describeStoreContract, type StoreHarness } from './store-contract.js';

describeStoreContract('embedded', (): StoreHarness => {
  const open: Array<{ store: ResourceStore; dir: string }> = [];
  return {
    async create() {
      const dir = mkdtempSync(join(tmpdir(), 'relais-contract-'));
      const store = new EmbeddedStore({ directory: dir });
      await store.open();
      open.push({ store, dir });
      return store;
    },
    async restart(store) {
      const entry = open.find((e) => e.store === store)!;
      await store.close();
      const next = new EmbeddedStore({ directory: entry.dir });
      await next.open();
      open.push({ store: next, dir: entry.dir });
      return next;
    },
    async dispose() {
      for (const { store, dir } of open.splice(0)) {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
});
