/**
 * Contexts over embedded stores in temporary folders, for the tests that write a store, close it,
 * change or inspect its folder, and open it again: every folder is removed and every context still
 * open is closed after each test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { buildContext, type RelaisContext } from '../../src/context.js';
import type { ResourceStore } from '../../src/store/resource-store.js';

export interface StoreContexts {
  /** A fresh folder, removed after the test. */
  tempDir(): string;
  /** A context over `store`, opened (closed after the test unless closed() before). */
  opened(store: ResourceStore): Promise<RelaisContext>;
  closed(ctx: RelaisContext): Promise<void>;
}

export function storeContexts(prefix: string): StoreContexts {
  const dirs: string[] = [];
  const contexts: RelaisContext[] = [];
  afterEach(async () => {
    for (const ctx of contexts.splice(0)) await ctx.store.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return {
    tempDir() {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    async opened(store) {
      const ctx = buildContext(loadConfig({ DATA_DIR: '/nonexistent', LOG_LEVEL: 'silent', BASE_URL: 'http://relais.test/fhir' }), store);
      await ctx.store.open();
      contexts.push(ctx);
      return ctx;
    },
    async closed(ctx) {
      contexts.splice(contexts.indexOf(ctx), 1);
      await ctx.store.close();
    },
  };
}
