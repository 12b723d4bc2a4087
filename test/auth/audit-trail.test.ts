import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../src/audit/audit-trail.js';
import type { AuditRecord } from '../../src/audit/audit-event.js';
import type { Principal } from '../../src/identity/principal.js';
import { parseScopes } from '../../src/identity/smart-scopes.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let server: TestServer;
let trail: AuditTrail;
const nurse: Principal = { kind: 'practitioner', subject: 'n1', issuer: 'relais-dev', role: 'nurse', rpps: '10001234567', name: 'Claire Martin', scopes: parseScopes('user/*.crus') };
const hospital: Principal = { kind: 'system', subject: 'his', issuer: 'relais-dev', role: 'hospital', finess: '750712184', clientId: 'his', scopes: parseScopes('system/*.crs') };

beforeAll(async () => {
  server = await startTestServer();
  trail = new AuditTrail({ ...server.ctx.engine.facts, store: server.ctx.store });
  await trail.record([
    { principal: nurse, interaction: 'read', resourceType: 'Observation', id: 'o1', versionId: '2', patients: ['p1'], outcome: 'success', recorded: new Date('2025-03-01T10:00:00Z') },
    { principal: nurse, interaction: 'search-type', resourceType: 'Observation', patients: ['p2'], outcome: 'denied', outcomeDetail: 'consent', query: 'patient=p2&code=x', recorded: new Date('2025-03-02T10:00:00Z') },
    { principal: nurse, interaction: 'read', resourceType: 'Patient', id: 'p3', patients: ['p3'], outcome: 'success', breakTheGlass: { reason: 'unconscious, GP unreachable' }, recorded: new Date('2025-03-03T10:00:00Z') },
    { principal: hospital, interaction: 'create', resourceType: 'ServiceRequest', id: 'sr1', patients: ['p1'], outcome: 'success', recorded: new Date('2025-03-04T10:00:00Z') },
  ]);
});
afterAll(async () => server.close());

const search = async (params: Array<[string, string]>) =>
  (await server.ctx.engine.asServer('test setup').search('AuditEvent', params)).entry?.map((e) => e.resource as import('fhir/r4').AuditEvent) ?? [];

describe('audit trail', () => {
  it('stores valid R4 AuditEvents shaped after BALP (type rest, subtype interaction, action, outcome, agents, entities)', async () => {
    const [event] = await search([['entity', 'Observation/o1']]);
    expect(event.type).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' });
    expect(event.subtype?.[0]).toMatchObject({ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' });
    expect(event.action).toBe('R');
    expect(event.outcome).toBe('0');
    expect(event.agent[0].who?.identifier).toEqual({ system: 'https://rpps.esante.gouv.fr', value: '10001234567' });
    expect(event.agent[0].requestor).toBe(true);
    expect(event.entity?.map((e) => e.what?.reference)).toEqual(['Patient/p1', 'Observation/o1/_history/2']);
  });

  it('is searchable by patient, date, action and outcome', async () => {
    expect((await search([['patient', 'Patient/p1']])).length).toBe(2);
    expect((await search([['date', 'ge2025-03-02'], ['date', 'lt2025-03-04']])).length).toBe(2);
    expect((await search([['action', 'C']])).map((e) => e.agent[0].who?.identifier?.value)).toEqual(['750712184']);
    const denied = await search([['outcome', '4']]);
    expect(denied).toHaveLength(1);
    expect(denied[0].outcomeDesc).toBe('consent');
    expect(Buffer.from(denied[0].entity!.find((e) => e.query)!.query!, 'base64').toString()).toBe('patient=p2&code=x');
  });

  it('is searchable by agent identifier (RPPS / FINESS)', async () => {
    expect((await search([['agent:identifier', 'https://rpps.esante.gouv.fr|10001234567']])).length).toBe(3);
    expect((await search([['agent:identifier', 'https://finess.esante.gouv.fr|750712184']])).length).toBe(1);
  });

  it("names the caller's type, so that the caller is no patient: `patient:identifier` with an RPPS or a FINESS finds nothing", async () => {
    const [event] = await search([['entity', 'Observation/o1']]);
    expect(event.agent[0].who?.type).toBe('Practitioner');
    expect((await search([['action', 'C']]))[0].agent[0].who?.type).toBe('Organization');
    // AuditEvent `patient` is `agent.who.where(resolve() is Patient) | entity.what.where(resolve() is Patient)`:
    // a reference typed Practitioner or Organization is not one, even by identifier alone.
    expect(await search([['patient:identifier', 'https://rpps.esante.gouv.fr|10001234567']])).toHaveLength(0);
    expect(await search([['patient:identifier', 'https://finess.esante.gouv.fr|750712184']])).toHaveLength(0);
    expect((await search([['agent', 'Patient/p1']])).length).toBe(0);
    expect((await search([['patient', 'Patient/p3']])).length).toBe(1);
  });

  it('builds events the R4 rules and the network profiles accept, for every kind of record (they are written without re-validation)', () => {
    const facts = server.ctx.engine.facts;
    const records: AuditRecord[] = [
      { principal: nurse, interaction: 'read', resourceType: 'Observation', id: 'o1', versionId: '2', patients: ['p1'], outcome: 'success', clientAddress: '127.0.0.1', requestId: 'r1' },
      { principal: nurse, interaction: 'search-type', resourceType: 'Observation', patients: ['p1', 'p2'], outcome: 'success', query: 'patient=p1&_count=1000' },
      { principal: nurse, interaction: 'read', resourceType: 'Patient', id: 'p3', patients: ['p3'], outcome: 'denied', outcomeDetail: 'consent', breakTheGlass: { reason: 'unconscious, GP unreachable' } },
      { principal: hospital, interaction: 'operation', operation: 'match', resourceType: 'Patient', patients: [], outcome: 'failed', outcomeDetail: 'answered 422' },
      { principal: hospital, interaction: 'create', resourceType: 'Communication', id: 'c1', patients: ['p1'], outcome: 'success', onBehalfOf: [{ reference: 'Practitioner/x' }, { identifier: { system: 'https://rpps.esante.gouv.fr', value: '10000000002' } }] },
      { server: { reason: 'seeding the network conformance resources' }, interaction: 'update', resourceType: 'StructureDefinition', id: 's1', patients: [], outcome: 'success' },
      { principal: hospital, interaction: 'search-system', patients: Array.from({ length: 1500 }, (_, i) => `p${i}`), outcome: 'success', query: '_count=1000' },
    ];
    for (const record of records) {
      const event = trail.event(record);
      expect(facts.validator.validate(event), JSON.stringify(record).slice(0, 80)).toEqual([]);
      const profileIssues = facts.profileValidation!.validate(event, { structureChecked: true });
      expect(profileIssues.filter((i) => i.severity === 'error' || i.severity === 'fatal'), JSON.stringify(record).slice(0, 80)).toEqual([]);
    }
  });

  it('flags break-the-glass with ETREAT, a BTG label and the stated reason', async () => {
    const [event] = await search([['patient', 'Patient/p3']]);
    expect(event.meta?.security?.[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'BTG' });
    expect(event.purposeOfEvent?.[0].coding?.[0].code).toBe('ETREAT');
    expect(event.outcomeDesc).toContain('unconscious, GP unreachable');
  });
});
