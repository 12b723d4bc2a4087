/**
 * Paging cursors over HTTP on the embedded store (test/search/paging-cursors-suite.ts):
 * owner-only, 410 once idle. One process per embedded store, so one app.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.js';
import { describePagingCursors } from './paging-cursors-suite.js';

describePagingCursors('embedded', () => {
  const directory = mkdtempSync(join(tmpdir(), 'relais-cursors-store-'));
  return {
    env: {},
    stores(limits) {
      const store = new EmbeddedStore({ directory, resultSets: limits });
      return [store, store];
    },
    async dispose() {
      rmSync(directory, { recursive: true, force: true });
    },
  };
});
