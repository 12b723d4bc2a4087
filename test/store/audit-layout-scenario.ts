/**
 * A fixed audit trail and the questions an auditor asks of it (every AuditEvent
 * search parameter, _lastUpdated, _content, _security, sorting, paging, type
 * and instance history), used to check that the compact way the embedded
 * store writes AuditEvents (lmdb-layout.ts, compact heads) answers exactly as
 * the full layout did, on a folder written by the earlier code, and as the
 * MongoDB store does (test/store/audit-layout.test.ts). Also used, once, to
 * write the fixture folder fixtures/audit-full-layout with the code of main
 * before the change (see that test).
 */
import type { AuditEvent, Bundle, Resource } from 'fhir/r4';
import { buildAuditEvent, type AuditRecord } from '../../src/audit/audit-event.js';
import type { RelaisContext } from '../../src/context.js';
import type { Principal } from '../../src/identity/principal.js';

const scopes = { entries: [] } as unknown as Principal['scopes'];
const coordinator: Principal = { kind: 'coordinator', subject: 'coord-1', issuer: 'https://idp.test', role: 'coordinator', name: 'Claire Coordinatrice', scopes };
const nurse: Principal = { kind: 'practitioner', subject: 'nurse-1', issuer: 'https://idp.test', role: 'nurse', rpps: '10000000001', name: 'Inès Infirmière', scopes };
const hospital: Principal = { kind: 'system', subject: 'chu-client', issuer: 'https://idp.test', role: 'system', finess: '750000001', clientId: 'chu-dpi', scopes };
const auditor: Principal = { kind: 'auditor', subject: 'audit-1', issuer: 'https://idp.test', role: 'auditor', scopes };

const at = (day: number, hour: number) => new Date(Date.UTC(2026, 10, day, hour, 15, 0));

/** [id, record]: ids fixed, so that every store and run writes the same trail. */
export const AUDIT_RECORDS: Array<[string, AuditRecord]> = [
  ['ae-01', { principal: coordinator, interaction: 'read', resourceType: 'Patient', id: 'p1', patients: ['p1'], outcome: 'success', clientAddress: '10.0.0.1', requestId: 'req-01', recorded: at(1, 8) }],
  ['ae-02', { principal: nurse, interaction: 'read', resourceType: 'Observation', id: 'obs-1', versionId: '2', patients: ['p1'], outcome: 'success', clientAddress: '10.0.0.2', requestId: 'req-02', recorded: at(1, 9) }],
  ['ae-03', { principal: nurse, interaction: 'search-type', resourceType: 'Observation', patients: ['p1', 'p2'], outcome: 'success', query: 'subject=Patient/p1&code=8867-4', requestId: 'req-03', recorded: at(2, 10) }],
  ['ae-04', { principal: nurse, interaction: 'read', resourceType: 'Patient', id: 'p3', patients: ['p3'], outcome: 'denied', outcomeDetail: 'no-relationship', requestId: 'req-04', recorded: at(2, 11) }],
  ['ae-05', { principal: hospital, interaction: 'create', resourceType: 'Encounter', id: 'enc-9', versionId: '1', patients: ['p2'], outcome: 'success', clientAddress: 'chu.example.fr', requestId: 'req-05', recorded: at(3, 12) }],
  ['ae-06', { principal: hospital, interaction: 'update', resourceType: 'Encounter', id: 'enc-9', versionId: '2', patients: ['p2'], outcome: 'failed', outcomeDetail: 'store unavailable', requestId: 'req-06', recorded: at(3, 13) }],
  ['ae-07', { principal: nurse, interaction: 'read', resourceType: 'Patient', id: 'p4', patients: ['p4'], outcome: 'success', breakTheGlass: { reason: 'malaise au domicile' }, requestId: 'req-07', recorded: at(4, 14) }],
  ['ae-08', { server: { reason: 'seeding the network conformance resources' }, interaction: 'update', resourceType: 'StructureDefinition', id: 'relais-patient', versionId: '1', patients: [], outcome: 'success', recorded: at(4, 15) }],
  ['ae-09', { principal: auditor, interaction: 'search-type', resourceType: 'AuditEvent', patients: [], outcome: 'success', query: 'patient=Patient/p1', requestId: 'req-09', recorded: at(5, 16) }],
  ['ae-10', { principal: nurse, interaction: 'read', resourceType: 'Task', id: 'task-3', patients: ['p5'], outcome: 'success', grantedBy: 'Task/task-3', requestId: 'req-10', recorded: at(5, 17) }],
  ['ae-11', { principal: coordinator, interaction: 'operation', operation: 'everything', resourceType: 'Patient', id: 'p2', patients: ['p2'], outcome: 'success', onBehalfOf: [{ reference: 'Practitioner/dr-x', display: 'Dr X' }], requestId: 'req-11', recorded: at(6, 18) }],
  ['ae-12', { principal: coordinator, interaction: 'delete', resourceType: 'CarePlan', id: 'cp-1', patients: ['p1'], outcome: 'success', clientAddress: '10.0.0.1', requestId: 'req-12', recorded: at(6, 19) }],
];

export function auditEvents(): AuditEvent[] {
  return AUDIT_RECORDS.map(([id, record]) => asBuiltAtFixture({ ...buildAuditEvent(record, 'Relais'), id }));
}

/**
 * The trail as the fixture's code built it: agents named by identifier without `type` (the caller's
 * Reference.type came later, test/auth/audit-trail.test.ts). This scenario compares store layouts
 * on the same bodies, old folder and fresh stores alike, not the events' contents.
 */
function asBuiltAtFixture(event: AuditEvent): AuditEvent {
  return { ...event, agent: event.agent.map((agent) => (agent.who?.identifier && agent.who.type ? { ...agent, who: withoutType(agent.who) } : agent)) };
}

function withoutType<T extends { type?: string }>(reference: T): Omit<T, 'type'> {
  const { type: _type, ...rest } = reference;
  return rest;
}

/** Writes the trail straight into the context's store, one write per event, with the server's index extraction. */
export async function writeTrail(ctx: RelaisContext, events: AuditEvent[] = auditEvents()): Promise<void> {
  const { extractor } = ctx.engine.facts;
  for (const event of events) {
    await ctx.store.write([{ kind: 'put', resourceType: 'AuditEvent', id: event.id!, resource: event, index: extractor.extract(event), expect: 'absent' }]);
  }
}

/** A second version of ae-02 (the store allows it; nobody does it through the API): history has two versions of it. */
export async function reviseTrail(ctx: RelaisContext): Promise<void> {
  const event = { ...auditEvents().find((e) => e.id === 'ae-02')!, outcomeDesc: 'revised by the test' };
  await ctx.store.write([{ kind: 'put', resourceType: 'AuditEvent', id: 'ae-02', resource: event, index: ctx.engine.facts.extractor.extract(event), expect: 1 }]);
}

/** Every search an auditor may run over the trail (each parameter of AuditEvent in R4, and the common ones). */
export const AUDIT_QUERIES: string[] = [
  '',
  'action=R',
  'action=C,U',
  'address=10.0.0.1',
  'agent:identifier=https://rpps.esante.gouv.fr|10000000001',
  'agent=Practitioner/dr-x',
  'agent-name=chu',
  'agent-role:text=nurse',
  'patient:identifier=https://finess.esante.gouv.fr|750000001',
  'altid=chu-client',
  'date=2026-11-02',
  'date=ge2026-11-04',
  'date=lt2026-11-03T00:00:00Z',
  'entity=Patient/p1',
  'entity=Task/task-3',
  'entity-name=AuditEvent',
  'entity-role=http://terminology.hl7.org/CodeSystem/object-role|24',
  'entity-type=1',
  'outcome=4',
  'outcome=0,8',
  'patient=Patient/p1',
  'patient=Patient/p2',
  'patient:missing=true',
  'policy=x',
  'site=req-05',
  'source=Relais',
  'subtype=read',
  'subtype=http://hl7.org/fhir/restful-interaction|search-type',
  'subtype=http://dicom.nema.org/resources/ontology/DCM|110127',
  'type=rest',
  '_id=ae-03,ae-07',
  '_lastUpdated=gt2000-01-01',
  '_content=malaise',
  '_security=BTG',
  'outcome:not=0',
  'subtype=read&patient=Patient/p1',
  '_sort=-date',
  '_sort=date&_count=5',
];

const ids = (bundle: Bundle<Resource>) => (bundle.entry ?? []).filter((e) => e.search?.mode !== 'include').map((e) => e.resource?.id ?? e.fullUrl ?? '');

/** The ids each query answers (in the order answered), every page of a paged search followed, and the history. */
export async function trailAnswers(ctx: RelaisContext): Promise<Record<string, unknown>> {
  const session = ctx.engine.asServer('test: reading the audit trail');
  const answers: Record<string, unknown> = {};
  for (const query of AUDIT_QUERIES) {
    const sorted = query.includes('_sort');
    const list = ids(await session.search('AuditEvent', [...new URLSearchParams(query).entries()]));
    answers[query] = sorted ? list : [...list].sort();
  }
  // Paging: three per page, in the default order and sorted by date, following each next link.
  for (const first of ['_count=3', '_count=3&_sort=-date', '_count=3&_total=accurate&patient=Patient/p1,Patient/p2']) {
    const pages: unknown[] = [];
    let params = [...new URLSearchParams(first).entries()];
    for (let page = 0; page < 10; page++) {
      const bundle = await session.search('AuditEvent', params);
      // The total only where it is asked for: without _total, a store may give it or not (R4 search, 3.1.1.5.5).
      pages.push({ ids: ids(bundle), ...(first.includes('_total=accurate') ? { total: bundle.total } : {}) });
      const next = bundle.link?.find((l) => l.relation === 'next')?.url;
      if (!next) break;
      params = [...new URL(next).searchParams.entries()];
    }
    answers[`pages ${first}`] = pages;
  }
  const history = await session.history({ resourceType: 'AuditEvent' }, []);
  answers['type history'] = { total: history.total, versions: (history.entry ?? []).map((e) => `${e.resource?.id ?? e.request?.url}/${e.resource?.meta?.versionId ?? ''}`) };
  const instance = await session.history({ resourceType: 'AuditEvent', id: 'ae-02' }, []);
  answers['instance history'] = { total: instance.total, versions: (instance.entry ?? []).map((e) => `${e.resource?.meta?.versionId ?? e.request?.url}`) };
  return answers;
}

/**
 * Searches on the AuditEvent parameters the embedded store writes without keys (lmdb-layout.ts,
 * UNKEYED_PARAMETERS: action, type, subtype, entity-type, entity-role; and outcome, keyed): alone, with a
 * system, combined with keyed ones, negated, missing, sorted, paged, counted.
 */
export const UNKEYED_QUERIES: string[] = [
  'action=R',
  'action=E',
  'action=C,U,D',
  'action:not=R',
  'action:missing=true',
  'action:missing=false',
  'outcome=0',
  'outcome=4',
  'outcome=4,8',
  'outcome:not=0',
  'outcome:missing=false',
  'type=rest',
  'type=http://terminology.hl7.org/CodeSystem/audit-event-type|rest',
  'type=http://terminology.hl7.org/CodeSystem/audit-event-type|',
  'type:not=rest',
  'subtype=read',
  'subtype=read,create',
  'subtype=http://hl7.org/fhir/restful-interaction|search-type',
  'subtype=http://dicom.nema.org/resources/ontology/DCM|110127',
  'subtype=http://dicom.nema.org/resources/ontology/DCM|',
  'subtype:not=read',
  'subtype:missing=true',
  'entity-type=1',
  'entity-type=http://terminology.hl7.org/CodeSystem/audit-entity-type|2',
  'entity-type:missing=true',
  'entity-role=1',
  'entity-role=http://terminology.hl7.org/CodeSystem/object-role|24',
  'entity-role=http://terminology.hl7.org/CodeSystem/object-role|4,http://terminology.hl7.org/CodeSystem/object-role|13',
  'entity-role:not=1',
  'subtype=read&patient=Patient/p1',
  'outcome=0&agent:identifier=https://rpps.esante.gouv.fr|10000000001',
  'action=R&date=ge2026-11-02',
  'outcome:not=0&date=lt2026-11-04',
  'type=rest&entity=Patient/p1',
  'action=R,C&altid=chu-client',
  'entity-type=1&entity-role=1&subtype=read',
  'outcome=0&site=req-05',
  'action:not=R&patient=Patient/p2',
  'subtype:missing=false&address=10.0.0.1',
  '_id=ae-01,ae-04,ae-08&outcome=0',
  '_lastUpdated=gt2000-01-01&action=R',
  'outcome=0&_sort=-date',
  'action=R&_sort=date&_count=2',
  'outcome=0,4&_count=3',
  'subtype=read&_count=2&_total=accurate',
  'outcome:not=0&_total=accurate',
  'entity-type=1&_sort=-date&_count=4&_total=accurate',
  'type=rest&_count=5&_sort=_id',
];

/**
 * Each query's answer, every page followed: the ids (in the order answered when sorted, else as a
 * sorted list: without `_sort` the order is the server's, R4 search 3.1.1.4), each page's size,
 * the total where `_total=accurate` asks for it, and whether an id came twice across the pages.
 */
export async function queryAnswers(ctx: RelaisContext, queries: string[]): Promise<Record<string, unknown>> {
  const session = ctx.engine.asServer('test: reading the audit trail');
  const answers: Record<string, unknown> = {};
  for (const query of queries) {
    const all: string[] = [];
    const sizes: number[] = [];
    const totals: unknown[] = [];
    let params = [...new URLSearchParams(query).entries()];
    for (let page = 0; page < 20; page++) {
      const bundle = await session.search('AuditEvent', params);
      const found = ids(bundle);
      all.push(...found);
      sizes.push(found.length);
      if (query.includes('_total=accurate')) totals.push(bundle.total);
      const next = bundle.link?.find((l) => l.relation === 'next')?.url;
      if (!next) break;
      params = [...new URL(next).searchParams.entries()];
    }
    answers[query] = { ids: query.includes('_sort') ? all : [...all].sort(), sizes, totals, repeated: new Set(all).size !== all.length };
  }
  return answers;
}
