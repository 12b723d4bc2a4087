/**
 * The access matrix of operations and conditional interactions (issue 11),
 * driven through the whole server with each role's token: every role ×
 * every operation ($validate of a body or of a stored resource, $match,
 * $expand, $find-professionals, $inbox, $mark-read) and conditional create,
 * update, patch and delete (matching what the caller may see, and what it may
 * not; a hospital's update of the stay it sent, issue 14) and
 * system-level search and history without _type. The expected answers are
 * written below, independently of the code, as one row per role; each cell
 * must also leave its AuditEvent (refusals included).
 */
import type { Bundle, Resource } from 'fhir/r4';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import { authenticatedRequests, devAuthEnv, type RequestMethod, registerInDirectory } from '../helpers/authenticated-requests.js';
import { STRUCTURE_ONLY, startTestServer, type TestServer } from '../helpers/test-server.js';

const NURSE_RPPS = '10000000001';
const LAB = 'https://labo-fictif.example.org/fhir/sid/resultat';
const STAY = 'https://hopital-fictif.example.org/fhir/sid/nda';
const stay = (subject: string) => ({ resourceType: 'Encounter', identifier: [{ system: STAY, value: 'SEJ-1' }], status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' }, subject: { reference: subject } });
let server: TestServer;
let patient: string; // the discharged patient of fixture 04, whom the nurse is habilitated for
let order: string; // a ServiceRequest about that patient
let sentSource: string; // the hospital's mark on the stay it sent
const tokens: Record<string, string> = {};
const { call, auditsOf } = authenticatedRequests(() => server, 'matrix');

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8')) as Bundle;
const observation = (subject: string, identifier?: string) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { text: 'Poids' },
  subject: { reference: subject },
  ...(identifier ? { identifier: [{ system: LAB, value: identifier }] } : {}),
});

type Expected = 'ok' | 403 | 404;
interface Cell {
  name: string;
  method: RequestMethod;
  url: () => string;
  body?: () => unknown;
  /** The status a success answers (for the assertion on successes). */
  success?: number;
}

/** In the order they run (each role's cells run in this order; the coordinator's last, as some of its writes change what matches). */
const CELLS: Cell[] = [
  { name: '$validate of a body', method: 'POST', url: () => '/fhir/Observation/$validate', body: () => observation(`Patient/${patient}`) },
  { name: '$validate of a resource it may read', method: 'GET', url: () => '/fhir/Observation/obs-a/$validate' },
  { name: '$validate of a resource it may not read', method: 'GET', url: () => '/fhir/Observation/obs-b/$validate' },
  { name: '$match', method: 'POST', url: () => '/fhir/Patient/$match', body: () => ({ resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Patient', name: [{ family: 'Lefèvre' }], birthDate: '1937-04-12' } }] }) },
  { name: '$expand', method: 'GET', url: () => '/fhir/ValueSet/$expand?url=http://hl7.org/fhir/ValueSet/administrative-gender' },
  { name: '$find-professionals for its patient', method: 'GET', url: () => `/fhir/ServiceRequest/${order}/$find-professionals` },
  { name: '$find-professionals for another patient', method: 'GET', url: () => '/fhir/ServiceRequest/sr-b/$find-professionals' },
  { name: 'conditional create matching what it sees', method: 'POST', url: () => '/fhir/Observation', body: () => observation(`Patient/${patient}`), success: 201 },
  { name: 'conditional create matching only a hidden resource', method: 'POST', url: () => '/fhir/Observation', body: () => observation(`Patient/${patient}`), success: 201 },
  { name: 'conditional update of what it sees', method: 'PUT', url: () => `/fhir/Observation?identifier=${LAB}|A-1`, body: () => observation(`Patient/${patient}`, 'A-1') },
  { name: 'conditional patch of what it sees', method: 'PATCH', url: () => `/fhir/Observation?identifier=${LAB}|A-1`, body: () => [{ op: 'replace', path: '/status', value: 'amended' }] },
  { name: 'conditional patch of a hidden resource', method: 'PATCH', url: () => `/fhir/Observation?identifier=${LAB}|B-1`, body: () => [{ op: 'replace', path: '/status', value: 'amended' }] },
  { name: 'conditional update matching only a hidden resource', method: 'PUT', url: () => `/fhir/Observation?identifier=${LAB}|B-1`, body: () => observation(`Patient/${patient}`) },
  { name: 'conditional delete', method: 'DELETE', url: () => `/fhir/Observation?identifier=${LAB}|NONE` },
  { name: '$inbox', method: 'GET', url: () => '/fhir/Communication/$inbox' },
  { name: '$mark-read of a message of its patient addressed to the team', method: 'POST', url: () => '/fhir/Communication/msg-a/$mark-read' },
  { name: '$mark-read of a hidden message', method: 'POST', url: () => '/fhir/Communication/msg-b/$mark-read' },
  // The body passes the hospital's mark back unchanged, as an update of its resource "as it is" does, so it stays the hospital's.
  { name: 'conditional update of the stay the hospital sent', method: 'PUT', url: () => `/fhir/Encounter?identifier=${STAY}|SEJ-1`, body: () => ({ ...stay(`Patient/${patient}`), meta: { source: sentSource } }) },
  { name: 'system search without _type', method: 'GET', url: () => '/fhir?_count=5' },
  { name: 'system history without _type', method: 'GET', url: () => '/fhir/_history?_count=5' },
];
const IF_NONE_EXIST: Record<string, string> = {
  'conditional create matching what it sees': `identifier=${LAB}|A-1`,
  'conditional create matching only a hidden resource': `identifier=${LAB}|B-1`,
};

/**
 * The rules of issue 11, restated. `ok` is any answer but a refusal (403) or
 * "not found" (404); where what a conditional create did matters, the status
 * is given (200: it matched; 201: it created, the match being hidden).
 */
const EXPECTED: Record<string, Record<string, Expected | 200 | 201>> = {
  nurse: {
    '$validate of a body': 'ok',
    '$validate of a resource it may read': 'ok',
    '$validate of a resource it may not read': 404,
    $match: 403,
    $expand: 'ok',
    '$find-professionals for its patient': 'ok',
    '$find-professionals for another patient': 404,
    'conditional create matching what it sees': 200,
    'conditional create matching only a hidden resource': 201,
    'conditional update of what it sees': 'ok',
    'conditional patch of what it sees': 'ok',
    'conditional patch of a hidden resource': 404,
    'conditional update matching only a hidden resource': 201,
    'conditional delete': 403,
    'system search without _type': 'ok',
    'system history without _type': 'ok',
    $inbox: 'ok',
    '$mark-read of a message of its patient addressed to the team': 'ok',
    '$mark-read of a hidden message': 404,
    'conditional update of the stay the hospital sent': 'ok',
  },
  hospital: {
    '$validate of a body': 'ok',
    '$validate of a resource it may read': 404,
    '$validate of a resource it may not read': 404,
    $match: 'ok',
    $expand: 403,
    '$find-professionals for its patient': 403,
    '$find-professionals for another patient': 403,
    'conditional create matching what it sees': 201,
    'conditional create matching only a hidden resource': 201,
    'conditional update of what it sees': 403,
    'conditional patch of what it sees': 403,
    'conditional patch of a hidden resource': 403,
    'conditional update matching only a hidden resource': 403,
    'conditional delete': 403,
    'system search without _type': 'ok',
    'system history without _type': 'ok',
    $inbox: 403,
    '$mark-read of a message of its patient addressed to the team': 403,
    '$mark-read of a hidden message': 403,
    'conditional update of the stay the hospital sent': 'ok',
  },
  auditor: {
    '$validate of a body': 403,
    '$validate of a resource it may read': 403,
    '$validate of a resource it may not read': 403,
    $match: 403,
    $expand: 403,
    '$find-professionals for its patient': 403,
    '$find-professionals for another patient': 403,
    'conditional create matching what it sees': 403,
    'conditional create matching only a hidden resource': 403,
    'conditional update of what it sees': 403,
    'conditional patch of what it sees': 403,
    'conditional patch of a hidden resource': 403,
    'conditional update matching only a hidden resource': 403,
    'conditional delete': 403,
    'system search without _type': 'ok',
    'system history without _type': 'ok',
    $inbox: 403,
    '$mark-read of a message of its patient addressed to the team': 403,
    '$mark-read of a hidden message': 403,
    'conditional update of the stay the hospital sent': 403,
  },
  platform: {
    '$validate of a body': 403,
    '$validate of a resource it may read': 'ok',
    '$validate of a resource it may not read': 'ok',
    $match: 403,
    $expand: 403,
    '$find-professionals for its patient': 403,
    '$find-professionals for another patient': 403,
    'conditional create matching what it sees': 403,
    'conditional create matching only a hidden resource': 403,
    'conditional update of what it sees': 403,
    'conditional patch of what it sees': 403,
    'conditional patch of a hidden resource': 403,
    'conditional update matching only a hidden resource': 403,
    'conditional delete': 403,
    'system search without _type': 'ok',
    'system history without _type': 'ok',
    $inbox: 403,
    '$mark-read of a message of its patient addressed to the team': 403,
    '$mark-read of a hidden message': 403,
    'conditional update of the stay the hospital sent': 403,
  },
  coordinator: {
    '$validate of a body': 'ok',
    '$validate of a resource it may read': 'ok',
    '$validate of a resource it may not read': 'ok',
    $match: 'ok',
    $expand: 'ok',
    '$find-professionals for its patient': 'ok',
    '$find-professionals for another patient': 'ok',
    'conditional create matching what it sees': 200,
    'conditional create matching only a hidden resource': 200,
    'conditional update of what it sees': 'ok',
    'conditional patch of what it sees': 'ok',
    'conditional patch of a hidden resource': 'ok',
    'conditional update matching only a hidden resource': 'ok',
    'conditional delete': 'ok',
    'system search without _type': 'ok',
    'system history without _type': 'ok',
    $inbox: 'ok',
    '$mark-read of a message of its patient addressed to the team': 'ok',
    '$mark-read of a hidden message': 'ok',
    'conditional update of the stay the hospital sent': 'ok',
  },
};

beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '100000', COORDINATION_TEAM_FINESS: '370099991', ...STRUCTURE_ONLY });
  await registerInDirectory(server, { finess: ['370000481'] });
  const env = devAuthEnv(server.dataDir);
  tokens.nurse = await mintDevToken({ role: 'nurse', rpps: NURSE_RPPS, ttlSeconds: 600 }, env);
  tokens.hospital = await mintDevToken({ role: 'hospital', finess: '370000481', client: 'dpi-chu', ttlSeconds: 600 }, env);
  tokens.auditor = await mintDevToken({ role: 'auditor', sub: 'audit-1', ttlSeconds: 600 }, env);
  tokens.platform = await mintDevToken({ role: 'platform', client: 'plateforme-ars', ttlSeconds: 600 }, env);
  tokens.coordinator = await mintDevToken({ role: 'coordinator', sub: 'coord-1', ttlSeconds: 600 }, env);
  const seed = server.ctx.engine.asServer('test setup');
  await seed.transaction(fixture('directory-touraine.json'));
  await seed.transaction(fixture('discharges/04-frail-rural-no-nurse.json'));
  patient = (await seed.search('Patient', [['identifier', 'urn:oid:1.2.250.1.213.1.4.10|137043726104567']])).entry![0].resource!.id!;
  order = (await seed.search('ServiceRequest', [['identifier', 'https://hopital-fictif.example.org/fhir/sid/prescription|RX-0404-1']])).entry![0].resource!.id!;
  const habilitation: Resource[] = [
    { resourceType: 'Practitioner', id: 'pr-nurse', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: NURSE_RPPS }] },
    { resourceType: 'Contract', id: 'adhesion-nurse', status: 'executed', subject: [{ reference: 'Practitioner/pr-nurse' }] },
    {
      resourceType: 'Consent',
      id: 'consent-p',
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: { reference: `Patient/${patient}` },
      performer: [{ reference: `Patient/${patient}` }],
      provision: { type: 'permit' },
    },
    { resourceType: 'CareTeam', id: 'ct-p', status: 'active', subject: { reference: `Patient/${patient}` }, participant: [{ member: { reference: 'Practitioner/pr-nurse' } }] },
    { ...observation(`Patient/${patient}`, 'A-1'), id: 'obs-a' },
    { resourceType: 'Patient', id: 'pat-b', name: [{ family: 'Autre' }] },
    { ...observation('Patient/pat-b', 'B-1'), id: 'obs-b' },
    { resourceType: 'ServiceRequest', id: 'sr-b', status: 'active', intent: 'order', subject: { reference: 'Patient/pat-b' } },
    ...['a', 'b'].map((x) => ({
      resourceType: 'Communication',
      id: `msg-${x}`,
      status: 'completed',
      subject: { reference: x === 'a' ? `Patient/${patient}` : 'Patient/pat-b' },
      recipient: [{ identifier: { system: 'https://finess.esante.gouv.fr', value: '370099991' } }],
      payload: [{ contentString: 'Pour l\'équipe de coordination' }],
    })),
  ] as Resource[];
  for (const resource of habilitation) await seed.update(resource.resourceType, resource.id!, resource);
  // The stay the hospital sent (issue 14: it may update what it sent).
  const sent = await server.app.inject({ method: 'POST', url: '/fhir/Encounter', headers: { authorization: `Bearer ${tokens.hospital}`, 'content-type': 'application/fhir+json' }, payload: JSON.stringify(stay(`Patient/${patient}`)) });
  expect(sent.statusCode).toBe(201);
  sentSource = sent.json().meta.source;
});
afterAll(async () => server.close());

describe('operations and conditional interactions, role by role', () => {
  for (const role of Object.keys(EXPECTED)) {
    it(`answers the ${role} as the rules say, and audits every cell`, async () => {
      const mismatches: string[] = [];
      for (const cell of CELLS) {
        const ifNoneExist = IF_NONE_EXIST[cell.name];
        const { response, requestId } = await call(tokens[role], cell.method, cell.url(), cell.body?.(), ifNoneExist ? { 'if-none-exist': ifNoneExist } : {});
        const want = EXPECTED[role][cell.name];
        const got = response.statusCode;
        const matches = want === 'ok' ? got !== 403 && got !== 404 && got < 500 : got === want;
        if (!matches) mismatches.push(`${cell.name}: got ${got} (${response.body.slice(0, 160)}), want ${want}`);
        const outcomes = (await auditsOf(requestId)).map((e) => e.outcome);
        const refused = got === 403 || got === 404;
        // Refusals are audited as such (4; a conditional write matching nothing visible, as a failure: 8),
        // successes as successes (0), other failures (an operation's 422) as failures (8).
        if (outcomes.length === 0 || (refused && !outcomes.includes('4') && !outcomes.includes('8')) || (!refused && got < 400 && outcomes.some((o) => o !== '0')) || (!refused && got >= 400 && !outcomes.includes('8'))) {
          mismatches.push(`${cell.name}: audit outcomes ${JSON.stringify(outcomes)} for status ${got}`);
        }
      }
      expect(mismatches).toEqual([]);
    });
  }
});
