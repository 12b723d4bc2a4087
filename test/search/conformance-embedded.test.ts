/** The search conformance suite on the embedded store (each run on a fresh temporary folder). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.js';
import { searchConformanceSuite } from './search-conformance-suite.js';

searchConformanceSuite('embedded store', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'relais-search-'));
  return { store: new EmbeddedStore({ directory }), dispose: async () => rmSync(directory, { recursive: true, force: true }) };
});
