/**
 * What a bulk export contains is exactly what its caller may read, and every
 * job is audited with the patients it covered: a regional platform gets the
 * types the network shares with it, a coordinator the network's data, a nurse
 * (Patient/$export) the patients she is habilitated for; hospitals and
 * auditors may not export; a type the caller may not read is refused (403);
 * another caller's status or files are a 404, as for an unknown job.
 */
import type { AuditEvent, Resource } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import { DEFAULT_PLATFORM_SHARED_TYPES } from '../../src/access/access-policy.js';
import { devAuthEnv } from '../helpers/authenticated-requests.js';
import { exportAll, kickOff, poll, startBulkServer, type BulkTestServer, type Manifest } from './bulk-test-server.js';

let server: BulkTestServer;
const tokens: Record<string, string> = {};
const NURSE_RPPS = '10000000001';
const bearer = (role: string) => ({ authorization: `Bearer ${tokens[role]}` });

const seed = (resource: Resource) => server.ctx.engine.asServer('test setup').update(resource.resourceType, resource.id!, resource);

async function auditsOfJob(jobId: string): Promise<AuditEvent[]> {
  const bundle = await server.ctx.engine.asServer('test setup').search('AuditEvent', [['_count', '1000']]);
  return (bundle.entry ?? []).map((e) => e.resource as AuditEvent).filter((e) => e.source.site === `bulk-export-${jobId}`);
}
const patientsOf = (events: AuditEvent[]) => [...new Set(events.flatMap((e) => (e.entity ?? []).map((x) => x.what?.reference).filter((r): r is string => !!r?.startsWith('Patient/'))))].sort();
const jobIdOf = (manifest: Manifest) => manifest.output[0].url.split('/bulk-files/')[1].split('/')[0];

beforeAll(async () => {
  server = await startBulkServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '100000' });
  const env = devAuthEnv(server.dataDir);
  tokens.nurse = await mintDevToken({ role: 'nurse', rpps: NURSE_RPPS, ttlSeconds: 600 }, env);
  tokens.coordinator = await mintDevToken({ role: 'coordinator', sub: 'coord-1', ttlSeconds: 600 }, env);
  tokens.platform = await mintDevToken({ role: 'platform', client: 'plateforme-ars', ttlSeconds: 600 }, env);
  tokens.platformNarrow = await mintDevToken({ role: 'platform', client: 'plateforme-ars', scope: 'system/Patient.rs system/Observation.rs', ttlSeconds: 600 }, env);
  tokens.hospital = await mintDevToken({ role: 'hospital', finess: '370000481', client: 'dpi-chu-tours', ttlSeconds: 600 }, env);
  tokens.auditor = await mintDevToken({ role: 'auditor', sub: 'audit-1', ttlSeconds: 600 }, env);
  for (const resource of [
    { resourceType: 'Practitioner', id: 'pr-nurse', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: NURSE_RPPS }] },
    { resourceType: 'Organization', id: 'org-ssiad', name: 'SSIAD Val de Loire' },
    { resourceType: 'PractitionerRole', id: 'role-nurse', practitioner: { reference: 'Practitioner/pr-nurse' }, organization: { reference: 'Organization/org-ssiad' } },
    { resourceType: 'Contract', id: 'convention-ssiad', status: 'executed', subject: [{ reference: 'Organization/org-ssiad' }] },
    { resourceType: 'Patient', id: 'pat-a', name: [{ family: 'Moreau' }] },
    { resourceType: 'Patient', id: 'pat-b', name: [{ family: 'Lefèvre' }] },
    {
      resourceType: 'Consent',
      id: 'consent-a',
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: { reference: 'Patient/pat-a' },
      performer: [{ reference: 'Patient/pat-a' }],
      provision: { type: 'permit' },
    },
    { resourceType: 'CareTeam', id: 'ct-a', status: 'active', subject: { reference: 'Patient/pat-a' }, participant: [{ member: { reference: 'Practitioner/pr-nurse' } }] },
    { resourceType: 'Observation', id: 'obs-a', status: 'final', code: { text: 'TA' }, subject: { reference: 'Patient/pat-a' } },
    { resourceType: 'Observation', id: 'obs-b', status: 'final', code: { text: 'TA' }, subject: { reference: 'Patient/pat-b' } },
    { resourceType: 'Group', id: 'secteur', type: 'person', actual: true, member: [{ entity: { reference: 'Patient/pat-a' } }, { entity: { reference: 'Patient/pat-b' } }] },
    { resourceType: 'Group', id: 'tournee-a', type: 'person', actual: true, member: [{ entity: { reference: 'Patient/pat-a' } }] },
  ] as unknown as Resource[]) {
    await seed(resource);
  }
});
afterAll(async () => server?.close());

describe('who may export what', () => {
  it('a regional platform exports the shared types only, and every job part is audited with the patients it covered', async () => {
    const { manifest, resources } = await exportAll(server.app, '$export', bearer('platform'));
    expect(manifest.requiresAccessToken).toBe(true);
    const types = new Set(resources.map((r) => r.resourceType as string));
    for (const type of types) expect(DEFAULT_PLATFORM_SHARED_TYPES, type).toContain(type);
    expect(types.has('Contract')).toBe(false);
    expect(types.has('AuditEvent')).toBe(false);
    expect(resources.map((r) => `${r.resourceType}/${r.id}`)).toEqual(expect.arrayContaining(['Patient/pat-a', 'Patient/pat-b', 'Observation/obs-a', 'Observation/obs-b', 'Organization/org-ssiad']));
    const audits = await auditsOfJob(jobIdOf(manifest));
    // One AuditEvent per part written (each a listing of the platform's), plus the count that estimated the progress.
    const job = (await server.ctx.bulk.storage.getJob(jobIdOf(manifest)))!;
    expect(audits.length).toBe(job.cursor.part! + 1);
    expect(patientsOf(audits)).toEqual(['Patient/pat-a', 'Patient/pat-b']);
    for (const event of audits) {
      expect(event.agent[0].who?.identifier?.value).toBe('plateforme-ars');
      expect(event.outcome).toBe('0');
    }
    // Each part's AuditEvent says which job and part it was, in its query.
    const queries = audits.map((e) => Buffer.from(e.entity!.find((x) => x.query)!.query!, 'base64').toString('utf8'));
    expect(queries.every((q) => q.includes(`bulk-export=${jobIdOf(manifest)}`))).toBe(true);
  });

  it('a coordinator exports the network\'s data (agreements included) but never the audit trail', async () => {
    const { resources } = await exportAll(server.app, '$export', bearer('coordinator'));
    const types = new Set(resources.map((r) => r.resourceType));
    expect(types.has('Contract')).toBe(true);
    expect(types.has('AuditEvent')).toBe(false);
  });

  it('a nurse gets her patients only through Patient/$export and Group/$export, and may not run the system export', async () => {
    const { manifest, resources } = await exportAll(server.app, 'Patient/$export', bearer('nurse'));
    expect(resources.map((r) => `${r.resourceType}/${r.id}`).sort()).toEqual(['CareTeam/ct-a', 'Consent/consent-a', 'Group/tournee-a', 'Observation/obs-a', 'Patient/pat-a']);
    expect(patientsOf(await auditsOfJob(jobIdOf(manifest)))).toEqual(['Patient/pat-a']);
    const group = await exportAll(server.app, 'Group/tournee-a/$export?_type=Patient,Observation', bearer('nurse'));
    expect(group.resources.map((r) => `${r.resourceType}/${r.id}`)).toEqual(['Patient/pat-a', 'Observation/obs-a']);
    // A Group naming a patient she may not reach is one she may not read: as unknown to her as a missing one.
    const hidden = await kickOff(server.app, 'Group/secteur/$export', bearer('nurse'));
    expect(hidden.statusCode).toBe(400);
    expect(hidden.json().issue[0].diagnostics).toContain('Group/secteur is not known');
    const system = await kickOff(server.app, '$export', bearer('nurse'));
    expect(system.statusCode).toBe(403);
    expect(system.json().resourceType).toBe('OperationOutcome');
  });

  it('a platform token whose scopes open no type may not start a system export (403, rule search-system)', async () => {
    const useless = await mintDevToken({ role: 'platform', client: 'plateforme-ars', scope: 'system/Contract.rs', ttlSeconds: 600 }, devAuthEnv(server.dataDir));
    const response = await kickOff(server.app, '$export', { authorization: `Bearer ${useless}` });
    expect(response.statusCode).toBe(403);
    expect(response.json().issue[0].diagnostics).toContain('may search no resource type');
  });

  it('hospitals and auditors may not export', async () => {
    for (const role of ['hospital', 'auditor']) {
      for (const path of ['$export', 'Patient/$export']) {
        const response = await kickOff(server.app, path, bearer(role));
        expect(response.statusCode, `${role} ${path}`).toBe(403);
      }
    }
  });

  it('a type the caller may not read, named in _type, is refused (403) and audited; no job', async () => {
    const before = (await server.ctx.bulk.storage.jobsOf('x', ['queued'])).length;
    const response = await kickOff(server.app, '$export?_type=Patient,Contract', bearer('platform'));
    expect(response.statusCode).toBe(403);
    expect(response.json().issue[0].diagnostics).toContain('Contract');
    expect((await server.ctx.bulk.storage.jobsOf('x', ['queued'])).length).toBe(before);
    const refusals = (await server.ctx.engine.asServer('test setup').search('AuditEvent', [['_count', '1000']])).entry!.map((e) => e.resource as AuditEvent).filter((e) => e.outcome === '4' && e.agent[0].who?.identifier?.value === 'plateforme-ars');
    expect(refusals.length).toBeGreaterThan(0);
  });
});

describe('status and files belong to the caller who kicked off', () => {
  it('another caller, the same client with other scopes, and no token get nothing', async () => {
    const started = await kickOff(server.app, '$export?_type=Patient', bearer('platform'));
    expect(started.statusCode).toBe(202);
    const statusUrl = String(started.headers['content-location']);
    const done = await poll(server.app, statusUrl, bearer('platform'));
    expect(done.statusCode).toBe(200);
    const manifest = JSON.parse(done.body) as Manifest;
    const fileUrl = manifest.output[0].url.replace('http://relais.test', '');
    for (const role of ['coordinator', 'platformNarrow', 'nurse']) {
      const status = await server.app.inject({ method: 'GET', url: statusUrl.replace('http://relais.test', ''), headers: bearer(role) });
      expect(status.statusCode, role).toBe(404);
      expect((await server.app.inject({ method: 'GET', url: fileUrl, headers: bearer(role) })).statusCode, role).toBe(404);
      expect((await server.app.inject({ method: 'DELETE', url: statusUrl.replace('http://relais.test', ''), headers: bearer(role) })).statusCode, role).toBe(404);
    }
    expect((await server.app.inject({ method: 'GET', url: fileUrl })).statusCode).toBe(401);
    expect((await server.app.inject({ method: 'GET', url: fileUrl, headers: bearer('platform') })).statusCode).toBe(200);
  });
});
