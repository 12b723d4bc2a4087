/**
 * The discharge coordination on a MongoDB deployment without multi-document
 * transactions (the CI test server, a standalone mongod): a hospital cannot
 * post its discharge as one transaction there (400, nothing written), but its
 * single writes work, and the coordination follows them — written right after
 * the write that caused it, one write at a time (src/engine/write-extensions.ts),
 * and re-planned from the stored state on the next write concerning the
 * discharge, so it stays consistent without atomicity.
 */
import type { Bundle, Encounter, Resource } from 'fhir/r4';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mongoUri } from '../store/mongo-test-database.js';
import { coordinationOf, fixturePath } from '../helpers/coordination-story.js';
import { FHIR_JSON, startTestServer, type TestServer } from '../helpers/test-server.js';

const describeWithMongo = mongoUri ? describe : describe.skip;

describeWithMongo('discharge coordination on MongoDB without transactions', () => {
  let server: TestServer;
  const send = async (method: 'POST' | 'PUT', url: string, body: unknown) => {
    const response = await server.app.inject({ method, url, headers: FHIR_JSON, payload: JSON.stringify(body) });
    return { status: response.statusCode, body: response.json() as Resource };
  };

  beforeAll(async () => {
    process.env.RELAIS_TEST_STORE = 'mongodb';
    try {
      server = await startTestServer({ COORDINATION_TEAM_FINESS: '370099991' });
    } finally {
      delete process.env.RELAIS_TEST_STORE;
    }
    const directory = JSON.parse(readFileSync(fixturePath('directory-touraine.json'), 'utf8')) as Bundle;
    expect((await send('POST', '/fhir', { ...directory, type: 'batch' })).status).toBe(200);
  });
  afterAll(async () => server?.close());

  it('a discharge sent resource by resource is taken in charge, then re-evaluated when its date moves', async () => {
    const bundle = JSON.parse(readFileSync(fixturePath('discharges/05-friday-evening-same-afternoon.json'), 'utf8')) as Bundle;
    expect((await send('POST', '/fhir', bundle)).status).toBe(400);
    const [patientEntry, encounterEntry, order, medication] = bundle.entry!;
    const patient = await send('POST', '/fhir/Patient', patientEntry.resource);
    expect(patient.status).toBe(201);
    const stay = { ...(encounterEntry.resource as Encounter), subject: { reference: `Patient/${patient.body.id}` }, serviceProvider: { reference: 'Organization/chu-fictif' } };
    const encounter = await send('POST', '/fhir/Encounter', stay);
    expect(encounter.status).toBe(201);
    for (const entry of [order, medication]) {
      const written = await send('POST', `/fhir/${entry.resource!.resourceType}`, { ...entry.resource, subject: { reference: `Patient/${patient.body.id}` }, encounter: { reference: `Encounter/${encounter.body.id}` } });
      expect(written.status).toBe(201);
    }
    let c = await coordinationOf(server, 'NDA-2026-000505');
    expect(c.checklist).toMatchObject({ prescriptions: 'done', 'medication-supply': 'missing', 'nurse-confirmed': 'to-do' });
    expect(Object.keys(c.flags).sort()).toEqual(['friday-afternoon', 'missing-items', 'short-notice']);
    expect(c.flags['friday-afternoon'].status).toBe('active');
    const moved = await send('PUT', `/fhir/Encounter/${encounter.body.id}`, { ...encounter.body, period: { ...stay.period, end: '2026-10-17T10:00:00+02:00' } });
    expect(moved.status).toBe(200);
    c = await coordinationOf(server, 'NDA-2026-000505');
    expect(c.flags.weekend.status).toBe('active');
    expect(c.flags['friday-afternoon'].status).toBe('inactive');
    expect(c.task.restriction?.period?.end).toBe('2026-10-17T08:00:00.000Z');
  });
});
