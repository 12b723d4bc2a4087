/**
 * The whole REST surface, driven twice with the same requests: once on a
 * server without authentication (AUTH_MODE=none) and once with a
 * coordinator's token (the default AUTH_MODE=dev). Everything a coordinator
 * may do answers exactly the same — conditional create and update, patch,
 * $validate, $match, $find-professionals, system history, batch and
 * transaction — so no generic client (createResourceIfNoneExist,
 * systemHistory...) breaks once a token is in play (issue 11). Ids the
 * servers assign, instants and paging cursors differ by nature and are
 * compared as placeholders.
 */
import { readFileSync } from 'node:fs';
import type { Bundle } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import { devAuthEnv } from '../helpers/authenticated-requests.js';
import { STRUCTURE_ONLY, startTestServer, type TestServer } from '../helpers/test-server.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8')) as Bundle;
const IPP = 'https://hopital-fictif.example.org/fhir/sid/ipp';

interface Step {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Remember the id of the resource answered under this name (for later steps' {name}). */
  capture?: string;
  /** The status the step answers (both ways). */
  status: number;
}

const { identifier: _none, ...anonymous } = { resourceType: 'Patient', identifier: [], name: [{ family: 'Parité', given: ['Anne'] }], birthDate: '1941-02-03', gender: 'female' };
const patient = { resourceType: 'Patient', identifier: [{ system: IPP, value: 'PARITY-1' }], name: [{ family: 'Parité', given: ['Béatrice'] }], birthDate: '1941-02-03', gender: 'female' };
const STEPS: Step[] = [
  { name: 'create', status: 201, method: 'POST', url: '/fhir/Patient', body: anonymous, capture: 'created' },
  { name: 'read', status: 200, method: 'GET', url: '/fhir/Patient/{created}' },
  { name: 'update', status: 200, method: 'PUT', url: '/fhir/Patient/{created}', body: { ...anonymous, id: '{created}', active: true } },
  { name: 'conditional create (creates)', status: 201, method: 'POST', url: '/fhir/Patient', body: patient, headers: { 'if-none-exist': `identifier=${IPP}|PARITY-1` }, capture: 'conditional' },
  { name: 'conditional create (matches)', status: 200, method: 'POST', url: '/fhir/Patient', body: patient, headers: { 'if-none-exist': `identifier=${IPP}|PARITY-1` } },
  { name: 'conditional update', status: 200, method: 'PUT', url: `/fhir/Patient?identifier=${IPP}|PARITY-1`, body: { ...patient, gender: 'female', active: true } },
  { name: 'patch', status: 200, method: 'PATCH', url: '/fhir/Patient/{created}', body: [{ op: 'replace', path: '/active', value: false }] },
  { name: 'conditional patch', status: 200, method: 'PATCH', url: `/fhir/Patient?identifier=${IPP}|PARITY-1`, body: [{ op: 'add', path: '/active', value: false }] },
  { name: 'search', status: 200, method: 'GET', url: '/fhir/Patient?family=parite&_sort=given' },
  { name: 'instance history', status: 200, method: 'GET', url: '/fhir/Patient/{conditional}/_history' },
  { name: 'type history', status: 200, method: 'GET', url: '/fhir/Patient/_history?_count=50' },
  { name: 'system history of named types', status: 200, method: 'GET', url: '/fhir/_history?_type=Patient,Encounter&_count=100' },
  { name: '$validate of a body', status: 200, method: 'POST', url: '/fhir/Patient/$validate', body: patient },
  { name: '$validate of a stored resource', status: 200, method: 'GET', url: '/fhir/Patient/{created}/$validate' },
  { name: '$match', status: 200, method: 'POST', url: '/fhir/Patient/$match', body: { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: patient }] } },
  { name: '$find-professionals', status: 200, method: 'GET', url: '/fhir/ServiceRequest/{order}/$find-professionals' },
  { name: '$expand', status: 200, method: 'GET', url: '/fhir/ValueSet/$expand?url=http://hl7.org/fhir/ValueSet/administrative-gender' },
  {
    name: 'transaction with a conditional create', status: 200,
    method: 'POST',
    url: '/fhir',
    body: {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:3f1c8a2e-0000-4000-8000-000000000001', resource: { ...patient, identifier: [{ system: IPP, value: 'PARITY-2' }] }, request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${IPP}|PARITY-2` } },
        { resource: { resourceType: 'Observation', status: 'final', code: { text: 'Poids' }, subject: { reference: 'urn:uuid:3f1c8a2e-0000-4000-8000-000000000001' } }, request: { method: 'POST', url: 'Observation' } },
      ],
    },
  },
  {
    name: 'batch of reads', status: 200,
    method: 'POST',
    url: '/fhir',
    body: { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: 'Patient/{created}' } }, { request: { method: 'GET', url: `Patient?identifier=${IPP}|PARITY-2` } }, { request: { method: 'GET', url: 'Patient/unknown-id' } }] },
  },
  { name: 'conditional delete', status: 204, method: 'DELETE', url: `/fhir/Patient?identifier=${IPP}|PARITY-1` },
  { name: 'delete', status: 204, method: 'DELETE', url: '/fhir/Patient/{created}' },
  { name: 'read of the deleted', status: 410, method: 'GET', url: '/fhir/Patient/{created}' },
];

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const INSTANT = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})/g;
const HTTP_DATE = /[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT/g;

/** A response with what differs by nature (server-assigned ids, instants, cursors) replaced by placeholders. */
function normalised(status: number, headers: Record<string, unknown>, body: string, ids: Map<string, string>): string {
  let text = `${status}\n${String(headers.location ?? '')}\n${String(headers['content-location'] ?? '')}\n${String(headers.etag ?? '')}\n${body}`;
  for (const [id, name] of ids) text = text.split(id).join(`<${name}>`);
  return text.replace(UUID, '<uuid>').replace(INSTANT, '<instant>').replace(HTTP_DATE, '<date>').replace(/_cursor=[A-Za-z0-9_-]+/g, '_cursor=<cursor>');
}

interface Run {
  answers: Map<string, string>;
}

async function drive(server: TestServer, token: string | undefined): Promise<Run> {
  const seed = server.ctx.engine.asServer('test setup');
  await seed.transaction(fixture('directory-touraine.json'));
  await seed.transaction(fixture('discharges/04-frail-rural-no-nurse.json'));
  const order = (await seed.search('ServiceRequest', [['identifier', 'https://hopital-fictif.example.org/fhir/sid/prescription|RX-0404-1']])).entry![0].resource!.id!;
  const captured = new Map<string, string>([['order', order]]);
  const ids = new Map<string, string>([[order, 'order']]);
  const answers = new Map<string, string>();
  const fill = (text: string) => text.replace(/\{(\w+)\}/g, (_, name: string) => captured.get(name) ?? `{${name}}`);
  for (const step of STEPS) {
    const response = await server.app.inject({
      method: step.method,
      url: fill(step.url),
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(step.body !== undefined ? { 'content-type': step.method === 'PATCH' ? 'application/json-patch+json' : 'application/fhir+json' } : {}),
        ...step.headers,
      },
      ...(step.body !== undefined ? { payload: fill(JSON.stringify(step.body)) } : {}),
    });
    if (step.capture) {
      const id = (response.json() as { id?: string }).id!;
      captured.set(step.capture, id);
      ids.set(id, step.capture);
    }
    answers.set(step.name, normalised(response.statusCode, response.headers, response.body, ids));
  }
  return { answers };
}

let open: TestServer;
let secured: TestServer;
let withoutToken: Run;
let withToken: Run;

beforeAll(async () => {
  open = await startTestServer({ AUTH_MODE: 'none', ...STRUCTURE_ONLY });
  secured = await startTestServer({ AUTH_MODE: 'dev', ...STRUCTURE_ONLY });
  const coordinator = await mintDevToken({ role: 'coordinator', sub: 'coord-parity', ttlSeconds: 600 }, devAuthEnv(secured.dataDir));
  withoutToken = await drive(open, undefined);
  withToken = await drive(secured, coordinator);
});
afterAll(async () => {
  await open.close();
  await secured.close();
});

describe('a coordinator\'s token changes no answer', () => {
  for (const step of STEPS) {
    it(step.name, () => {
      const without = withoutToken.answers.get(step.name)!;
      expect(Number(without.split('\n')[0]), without.slice(0, 300)).toBe(step.status);
      expect(withToken.answers.get(step.name)).toBe(without);
    });
  }

  it('also lists the system history without _type (every type the coordinator may list)', async () => {
    const coordinator = await mintDevToken({ role: 'coordinator', sub: 'coord-parity', ttlSeconds: 600 }, devAuthEnv(secured.dataDir));
    const response = await secured.app.inject({ method: 'GET', url: '/fhir/_history?_count=200', headers: { authorization: `Bearer ${coordinator}` } });
    expect(response.statusCode).toBe(200);
    const types = new Set((response.json() as Bundle).entry!.map((e) => e.fullUrl!.split('/').slice(-2, -1)[0]));
    expect(types.has('Patient')).toBe(true);
    expect(types.has('AuditEvent')).toBe(false);
  });
});
