/** The audit trail's answers on MongoDB are those of the embedded store (audit-layout.test.ts, same scenario and expectations). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { buildContext } from '../../src/context.js';
import { reviseTrail, trailAnswers, writeTrail } from './audit-layout-scenario.js';
import { dropDatabases, freshDatabaseName, mongoStore, mongoUri } from './mongo-test-database.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'audit-full-layout');
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as Record<string, unknown>;

describe.skipIf(!mongoUri)('AuditEvents in the MongoDB store', () => {
  const database = freshDatabaseName();
  afterAll(() => dropDatabases([database]));

  it('answer every audit search, page and history as the embedded store does', async () => {
    const ctx = buildContext(loadConfig({ DATA_DIR: '/nonexistent', LOG_LEVEL: 'silent', BASE_URL: 'http://relais.test/fhir' }), mongoStore(database));
    await ctx.store.open();
    try {
      await writeTrail(ctx);
      await reviseTrail(ctx);
      expect(await trailAnswers(ctx)).toEqual(expected);
    } finally {
      await ctx.store.close();
    }
  });
});
