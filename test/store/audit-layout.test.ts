/**
 * The embedded store writes AuditEvents with compact heads (lmdb-layout.ts: their
 * current entries in `entries` only, no per-parameter copies in `current`). An
 * auditor must get exactly the answers she got before — every AuditEvent search
 * parameter, _lastUpdated, _content, _security, sorting, paging, history — on a
 * fresh store, on a data folder written by the code before the change
 * (fixtures/audit-full-layout: written by main at 3bd263e, with the answers that
 * code gave over it), after more writes of either kind over that folder
 * (a new version of an old AuditEvent, deletions) — and on MongoDB
 * (mongo-audit-layout.test.ts).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from 'fhir/r4';
import type { RelaisContext } from '../../src/context.js';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.js';
import { HIGHEST } from '../../src/store/embedded/index-keys.js';
import { openLayout, UNKEYED_PARAMETERS } from '../../src/store/embedded/lmdb-layout.js';
import { storeContexts } from '../helpers/store-contexts.js';
import { auditEvents, queryAnswers, reviseTrail, trailAnswers, UNKEYED_QUERIES, writeTrail } from './audit-layout-scenario.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'audit-full-layout');
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as Record<string, unknown>;

const { tempDir, opened, closed } = storeContexts('relais-audit-layout-');

/** The full layout, as before compact heads: no type written compact, every parameter keyed. */
const fullLayout = (directory: string) => new EmbeddedStore({ directory, writeOnceTypes: new Set(), unkeyedParameters: new Map() });
/** Compact heads, every parameter keyed: the layout between compact heads and the key policy. */
const everyKey = (directory: string) => new EmbeddedStore({ directory, unkeyedParameters: new Map() });

/** A data folder holding the fixture's store, as the earlier code left it. */
function fixtureFolder(): string {
  const dir = tempDir();
  mkdirSync(join(dir, 'store'));
  writeFileSync(join(dir, 'store', 'data.mdb'), gunzipSync(readFileSync(join(FIXTURE, 'data.mdb.gz'))));
  return dir;
}

/** What the layout holds for AuditEvents: heads flagged compact, and per-parameter copies. */
async function layoutOf(directory: string): Promise<{ compactHeads: number; heads: number; copies: number }> {
  const layout = openLayout(directory, true);
  try {
    let compactHeads = 0;
    let heads = 0;
    for (const { value } of layout.heads.getRange({ start: ['AuditEvent'], end: ['AuditEvent', HIGHEST] })) {
      heads++;
      if (value.c) compactHeads++;
    }
    const copies = layout.current.getKeysCount({ start: ['AuditEvent'], end: ['AuditEvent', HIGHEST] });
    return { compactHeads, heads, copies };
  } finally {
    await layout.env.close();
  }
}

const later = (id: string, day: number, patient: string): AuditEvent => ({ ...auditEvents()[0], id, recorded: new Date(Date.UTC(2026, 10, day, 9)).toISOString(), entity: [{ what: { reference: `Patient/${patient}` } }] });

/** More writes over a trail: new AuditEvents, a new version of an old one, deletions of an old and a new one. */
async function moreWrites(ctx: RelaisContext): Promise<void> {
  await writeTrail(ctx, [later('ae-13', 7, 'p1'), later('ae-14', 8, 'p6')]);
  const revised = { ...auditEvents().find((e) => e.id === 'ae-05')!, outcome: '8' as const, outcomeDesc: 'revised' };
  await ctx.store.write([{ kind: 'put', resourceType: 'AuditEvent', id: 'ae-05', resource: revised, index: ctx.engine.facts.extractor.extract(revised), expect: 1 }]);
  await ctx.store.write([{ kind: 'delete', resourceType: 'AuditEvent', id: 'ae-06' }]);
  await ctx.store.write([{ kind: 'delete', resourceType: 'AuditEvent', id: 'ae-14' }]);
}

describe('AuditEvents in the embedded store, compact heads', () => {
  it('a fresh store answers every audit search, page and history as the full layout did (and keeps no per-parameter copies)', async () => {
    const dir = tempDir();
    const ctx = await opened(new EmbeddedStore({ directory: dir }));
    await writeTrail(ctx);
    await reviseTrail(ctx);
    expect(await trailAnswers(ctx)).toEqual(expected);
    await closed(ctx);
    expect(await layoutOf(dir)).toEqual({ compactHeads: 12, heads: 12, copies: 0 });
  });

  it('a folder written before compact heads answers as it did, and as a full-layout store after more writes of both kinds, across a restart', async () => {
    const dir = fixtureFolder();
    expect(await layoutOf(dir)).toMatchObject({ compactHeads: 0, heads: 12 });
    const ctx = await opened(new EmbeddedStore({ directory: dir }));
    expect(await trailAnswers(ctx)).toEqual(expected);

    const referenceDir = tempDir();
    const reference = await opened(fullLayout(referenceDir));
    await writeTrail(reference);
    await reviseTrail(reference);
    await moreWrites(reference);
    await moreWrites(ctx);
    const answers = await trailAnswers(reference);
    // The writes changed the answers (otherwise the comparison would prove little).
    expect(answers['outcome=4']).toEqual(['ae-04']);
    expect(answers['patient=Patient/p1']).toEqual(['ae-01', 'ae-02', 'ae-03', 'ae-12', 'ae-13']);
    expect(answers['outcome=0,8']).not.toContain('ae-06');
    expect(await trailAnswers(ctx)).toEqual(answers);

    await closed(ctx);
    // ae-13 and the new version of ae-05 are compact; ae-06 and ae-14 are deleted; the other old heads keep their copies.
    expect(await layoutOf(dir)).toMatchObject({ compactHeads: 2, heads: 14 });
    expect(await trailAnswers(await opened(new EmbeddedStore({ directory: dir })))).toEqual(answers);
  });
});

/** AuditEvent keys of the parameters the policy leaves unkeyed, and of the others. */
async function auditKeys(directory: string): Promise<{ unkeyed: number; keyed: number }> {
  const layout = openLayout(directory, true);
  try {
    const all = layout.keys.getKeysCount({ start: ['AuditEvent'], end: ['AuditEvent', HIGHEST] });
    let unkeyed = 0;
    for (const code of UNKEYED_PARAMETERS.get('AuditEvent')!) unkeyed += layout.keys.getKeysCount({ start: ['AuditEvent', code], end: ['AuditEvent', code, HIGHEST] });
    return { unkeyed, keyed: all - unkeyed };
  } finally {
    await layout.env.close();
  }
}

/** Reindexes every current AuditEvent (what `relais reindex AuditEvent` does, through the store port). */
async function reindexTrail(ctx: RelaisContext): Promise<number> {
  const { versions } = await ctx.store.search({ resourceTypes: ['AuditEvent'], filter: {}, sort: [{ path: 'id', direction: 1 }], offset: 0, count: 500, withTotal: false });
  return ctx.store.reindex(versions.map((v) => ({ resourceType: 'AuditEvent', id: v.id, versionId: v.versionId, index: ctx.engine.facts.extractor.extract(v.resource!) })));
}

describe('AuditEvents in the embedded store, shared codes without keys', () => {
  /** The answers of a store keying every parameter (as before the policy) after the whole scenario. */
  async function referenceAnswers(): Promise<{ queries: Record<string, unknown>; trail: Record<string, unknown> }> {
    const ctx = await opened(everyKey(tempDir()));
    await writeTrail(ctx);
    await reviseTrail(ctx);
    await moreWrites(ctx);
    const answers = { queries: await queryAnswers(ctx, UNKEYED_QUERIES), trail: await trailAnswers(ctx) };
    await closed(ctx);
    return answers;
  }

  it('writes no keys for action, type, subtype, entity-type and entity-role (outcome keeps its key), and answers every search on them as a store keying them does', async () => {
    const reference = await referenceAnswers();
    const queries = reference.queries as Record<string, { ids: string[]; sizes: number[]; totals: unknown[]; repeated: boolean }>;
    // The scenario asks what it means to (otherwise the comparison would prove little).
    expect(queries['outcome=4'].ids).toEqual(['ae-04']);
    expect(queries['action=R&date=ge2026-11-02'].ids).toEqual(['ae-04', 'ae-07', 'ae-10', 'ae-13']);
    expect(queries['subtype=read&_count=2&_total=accurate']).toMatchObject({ sizes: [2, 2, 2], totals: [6, 6, 6], repeated: false });
    expect(queries['outcome=0&_sort=-date'].ids.slice(0, 2)).toEqual(['ae-13', 'ae-12']);

    const dir = tempDir();
    const ctx = await opened(new EmbeddedStore({ directory: dir }));
    await writeTrail(ctx);
    await reviseTrail(ctx);
    await moreWrites(ctx);
    expect(await queryAnswers(ctx, UNKEYED_QUERIES)).toEqual(reference.queries);
    expect(await trailAnswers(ctx)).toEqual(reference.trail);
    await closed(ctx);
    expect(await auditKeys(dir)).toMatchObject({ unkeyed: 0, keyed: expect.any(Number) });
    expect((await auditKeys(dir)).keyed).toBeGreaterThan(100);
  });

  it('a folder holding keys of every parameter answers the same, with AuditEvents written under the policy after it, across a restart, and `reindex` drops the old keys', async () => {
    const reference = await referenceAnswers();
    const dir = tempDir();
    const before = await opened(everyKey(dir));
    await writeTrail(before, auditEvents().slice(0, 6));
    await closed(before);
    const oldKeys = (await auditKeys(dir)).unkeyed;
    expect(oldKeys).toBeGreaterThan(40);

    let ctx = await opened(new EmbeddedStore({ directory: dir }));
    await writeTrail(ctx, auditEvents().slice(6));
    // ae-02 and ae-05 (old keys) get a new version and ae-06 (old keys) is deleted: their old keys go with them.
    await reviseTrail(ctx);
    await moreWrites(ctx);
    expect(await queryAnswers(ctx, UNKEYED_QUERIES)).toEqual(reference.queries);
    expect(await trailAnswers(ctx)).toEqual(reference.trail);
    await closed(ctx);
    const left = (await auditKeys(dir)).unkeyed;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(oldKeys);

    ctx = await opened(new EmbeddedStore({ directory: dir }));
    expect(await queryAnswers(ctx, UNKEYED_QUERIES)).toEqual(reference.queries);
    expect(await reindexTrail(ctx)).toBe(12);
    expect(await queryAnswers(ctx, UNKEYED_QUERIES)).toEqual(reference.queries);
    expect(await trailAnswers(ctx)).toEqual(reference.trail);
    await closed(ctx);
    expect((await auditKeys(dir)).unkeyed).toBe(0);
  });

  it('the folder written before compact heads answers the searches on those parameters as a store keying them does', async () => {
    const referenceCtx = await opened(fullLayout(tempDir()));
    await writeTrail(referenceCtx);
    await reviseTrail(referenceCtx);
    const reference = await queryAnswers(referenceCtx, UNKEYED_QUERIES);
    const dir = fixtureFolder();
    const ctx = await opened(new EmbeddedStore({ directory: dir }));
    expect(await queryAnswers(ctx, UNKEYED_QUERIES)).toEqual(reference);
    await closed(ctx);
    expect((await auditKeys(dir)).unkeyed).toBeGreaterThan(100);
  });
});
