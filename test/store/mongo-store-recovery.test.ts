/**
 * Without transactions the MongoDB store writes in ordered steps (guard claim,
 * current version, history, guard settle/release). A process can die between
 * two of them; these tests recreate each such state directly in the database
 * and check that later writers recover instead of being blocked or losing data.
 */
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MongoStore } from '../../src/store/mongo/mongo-store.js';
import { GuardConflict } from '../../src/store/resource-store.js';
import { dropDatabases, freshDatabaseName, mongoStore, mongoUri } from './mongo-test-database.js';

const patient = (id: string, family = 'Martin') => ({ resourceType: 'Patient' as const, id, name: [{ family }] });

describe.skipIf(!mongoUri)('MongoDB store: recovery from a writer that died between steps', () => {
  const database = freshDatabaseName();
  let store: MongoStore;
  let client: MongoClient;
  let db: Db;

  beforeAll(async () => {
    store = mongoStore(database, { transactions: 'off' });
    await store.open();
    client = new MongoClient(mongoUri);
    db = client.db(database);
  });

  afterAll(async () => {
    await store?.close();
    await client?.close();
    await dropDatabases([database]);
  });

  const guard = (id: string, holder: string, settled: boolean, claimedAt = new Date()) =>
    db.collection<{ _id: string }>('guards').insertOne({ _id: id, type: 'Patient', id: holder, settled, claimedAt } as never);

  it('frees a guard whose holder was never written', async () => {
    await guard('G-missing', 'never-written', true);
    const [version] = await store.write([{ kind: 'put', resourceType: 'Patient', id: 'a1', resource: patient('a1'), expect: 'absent', guardKey: 'G-missing' }]);
    expect(version.id).toBe('a1');
    expect(await db.collection('guards').findOne({ _id: 'G-missing' as never })).toMatchObject({ id: 'a1', settled: true });
  });

  it('frees a guard whose holder was deleted before the guard was released', async () => {
    await store.write([{ kind: 'put', resourceType: 'Patient', id: 'b1', resource: patient('b1') }]);
    await store.write([{ kind: 'delete', resourceType: 'Patient', id: 'b1' }]);
    await guard('G-deleted', 'b1', true);
    const [version] = await store.write([{ kind: 'put', resourceType: 'Patient', id: 'b2', resource: patient('b2'), guardKey: 'G-deleted' }]);
    expect(version.id).toBe('b2');
  });

  it('keeps honouring a guard whose live holder was written but not marked settled', async () => {
    await store.write([{ kind: 'put', resourceType: 'Patient', id: 'c1', resource: patient('c1') }]);
    await guard('G-unsettled', 'c1', false, new Date(Date.now() - 60_000));
    const error = await store.write([{ kind: 'put', resourceType: 'Patient', id: 'c2', resource: patient('c2'), guardKey: 'G-unsettled' }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GuardConflict);
    expect(error).toMatchObject({ holder: { id: 'c1' } });
  });

  it('waits for a claim in progress, then reports its holder once written', async () => {
    await guard('G-in-flight', 'd1', false);
    const competing = store.write([{ kind: 'put', resourceType: 'Patient', id: 'd2', resource: patient('d2'), guardKey: 'G-in-flight' }]).catch((e: unknown) => e);
    // The first writer finishes its steps a little later.
    await new Promise((resolve) => setTimeout(resolve, 150));
    await store.write([{ kind: 'put', resourceType: 'Patient', id: 'd1', resource: patient('d1') }]);
    await db.collection('guards').updateOne({ _id: 'G-in-flight' as never }, { $set: { settled: true } });
    const error = await competing;
    expect(error).toBeInstanceOf(GuardConflict);
    expect(error).toMatchObject({ holder: { id: 'd1' } });
    expect(await store.readCurrent('Patient', 'd2')).toBeUndefined();
  });

  it('takes over an abandoned claim whose holder never appeared', async () => {
    await guard('G-abandoned', 'e-never', false, new Date(Date.now() - 60_000));
    const [version] = await store.write([{ kind: 'put', resourceType: 'Patient', id: 'e1', resource: patient('e1'), guardKey: 'G-abandoned' }]);
    expect(version.id).toBe('e1');
  });

  it('serves and then repairs a current version missing from history', async () => {
    await store.write([{ kind: 'put', resourceType: 'Patient', id: 'f1', resource: patient('f1', 'One') }]);
    // A writer replaced the current version (step 1) and died before copying it to history (step 2).
    const resource = { ...patient('f1', 'Two'), meta: { versionId: '2', lastUpdated: new Date().toISOString() } };
    await db.collection('resources').updateOne(
      { _id: 'Patient/f1' as never },
      { $set: { versionId: 2, lastUpdated: resource.meta.lastUpdated, resource, idx: {} } },
    );
    expect((await store.readVersion('Patient', 'f1', 2))?.resource).toMatchObject({ name: [{ family: 'Two' }] });
    expect((await store.history({ resourceType: 'Patient', id: 'f1', offset: 0, count: 10 })).total).toBe(1);
    // The next write of that resource copies the version it replaces.
    await store.write([{ kind: 'put', resourceType: 'Patient', id: 'f1', resource: patient('f1', 'Three'), expect: 2 }]);
    const history = await store.history({ resourceType: 'Patient', id: 'f1', offset: 0, count: 10 });
    expect(history.versions.map((v) => [v.versionId, (v.resource as unknown as { name: Array<{ family: string }> }).name[0].family])).toEqual([
      [3, 'Three'],
      [2, 'Two'],
      [1, 'One'],
    ]);
  });

  // The outbox without transactions: a version's notification records commit inside its own document
  // (`ob`), then are copied to `outboxpending`. A writer that died in between left them there.
  const strandRecords = async (id: string, family: string, versionId: number, queue: string) => {
    const lastUpdated = new Date(Date.now() + versionId).toISOString();
    const resource = { ...patient(id, family), meta: { versionId: String(versionId), lastUpdated } };
    const ob = [{ _id: `${queue}|Patient/${id}/${versionId}|0`, q: queue, rt: 'Patient', rid: id, v: versionId, at: lastUpdated, data: { family } }];
    await db.collection('resources').updateOne({ _id: `Patient/${id}` as never }, { $set: { versionId, lastUpdated, resource, idx: {}, ob, obp: true } });
  };

  it('outbox: the backlog sweep copies records a writer left in the version document', async () => {
    await store.write([{ kind: 'put', resourceType: 'Patient', id: 'g1', resource: patient('g1', 'One') }]);
    await strandRecords('g1', 'Two', 2, 'sub-g');
    expect((await store.outboxBacklog()).map((q) => q.queue)).toContain('sub-g');
    expect((await store.readOutbox('sub-g', 0, 10)).map((e) => [e.seq, e.versionId, e.data.family])).toEqual([[1, 2, 'Two']]);
    expect(await db.collection('resources').findOne({ _id: 'Patient/g1' as never, obp: true })).toBeNull();
    // Swept twice (another process racing): still one entry.
    await db.collection('outboxpending').insertOne({ _id: 'sub-g|Patient/g1/2|0', q: 'sub-g', rt: 'Patient', rid: 'g1', v: 2, at: new Date().toISOString(), data: {} } as never);
    expect((await store.readOutbox('sub-g', 0, 10)).map((e) => e.seq)).toEqual([1]);
  });

  it('outbox: the next writer of the resource copies the stranded records before replacing the document', async () => {
    await store.write([{ kind: 'put', resourceType: 'Patient', id: 'h1', resource: patient('h1', 'One') }]);
    await strandRecords('h1', 'Two', 2, 'sub-h');
    await store.write([{ kind: 'put', resourceType: 'Patient', id: 'h1', resource: patient('h1', 'Three'), expect: 2, outbox: [{ queue: 'sub-h', data: { family: 'Three' } }] }]);
    expect((await store.readOutbox('sub-h', 0, 10)).map((e) => [e.seq, e.versionId, e.data.family])).toEqual([
      [1, 2, 'Two'],
      [2, 3, 'Three'],
    ]);
  });
});
