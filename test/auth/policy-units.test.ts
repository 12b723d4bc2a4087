import type { CareTeam, Consent, Contract, Task } from 'fhir/r4';
import { describe, expect, it } from 'vitest';
import { buildPatientCompartment } from '../../scripts/build-patient-compartment.js';
import {
  careTeamIncludes,
  consentPermitsSharing,
  contractCovers,
  isOpenRequest,
  isRequestAddressedTo,
  namedByRequest,
  organizationsUnderConvention,
  periodCovers,
  type PractitionerIdentity,
} from '../../src/access/access-facts.js';
import { requestAnswerOnly } from '../../src/access/access-policy.js';
import { compartmentParams, compartmentPatients } from '../../src/access/patient-compartment.js';
import { resourceClass } from '../../src/access/resource-classes.js';
import { parseClaimsMapping, principalFromClaims, DEFAULT_CLAIMS_MAPPING } from '../../src/auth/claims-mapping.js';
import { parseScopes, scopesGrant } from '../../src/identity/smart-scopes.js';
import { readFileSync } from 'node:fs';
import { policySettingsFromConfig } from '../../src/access/policy-settings.js';
import { ConfigError, type RelaisConfig } from '../../src/config.js';

describe('SMART scopes', () => {
  it('parses v2 scopes and checks permissions per context and type', () => {
    const s = parseScopes('openid fhirUser patient/Observation.rs user/*.cu system/Patient.c launch/patient');
    expect(s.resourceScopes.map((r) => r.raw)).toEqual(['patient/Observation.rs', 'user/*.cu', 'system/Patient.c']);
    expect(s.other).toEqual(['openid', 'fhirUser', 'launch/patient']);
    expect(scopesGrant(s, ['patient'], 'Observation', 's')).toBe(true);
    expect(scopesGrant(s, ['patient'], 'Observation', 'u')).toBe(false);
    expect(scopesGrant(s, ['user'], 'Task', 'u')).toBe(true);
    expect(scopesGrant(s, ['user'], 'Task', 'r')).toBe(false);
    expect(scopesGrant(s, ['system'], 'Patient', 'c')).toBe(true);
    expect(scopesGrant(s, ['system'], 'Observation', 'c')).toBe(false);
  });

  it('maps v1 .read/.write/.* and ignores out-of-order letters and granular queries', () => {
    const s = parseScopes(['user/Patient.read', 'user/Task.write', 'system/*.*', 'user/Observation.sr', 'user/Condition.rs?category=x']);
    expect(scopesGrant(s, ['user'], 'Patient', 's')).toBe(true);
    expect(scopesGrant(s, ['user'], 'Patient', 'c')).toBe(false);
    expect(scopesGrant(s, ['user'], 'Task', 'd')).toBe(true);
    expect(scopesGrant(s, ['user'], 'Task', 'r')).toBe(false);
    expect(scopesGrant(s, ['system'], 'Anything', 'd')).toBe(true);
    expect(s.ignored).toEqual(['user/Observation.sr', 'user/Condition.rs?category=x']);
  });
});

describe('claims → principal', () => {
  const base = { iss: 'https://idp', sub: 'u1', scope: 'user/*.rs' };
  it('maps a nurse with RPPS, a hospital with FINESS (Corsica included), Keycloak-style nested roles', () => {
    expect(principalFromClaims({ ...base, relais_role: 'nurse', rpps: '10001234567' }, DEFAULT_CLAIMS_MAPPING)).toMatchObject({ kind: 'practitioner', rpps: '10001234567' });
    expect(principalFromClaims({ ...base, relais_role: 'hospital', finess: '2A0000123', azp: 'his' }, DEFAULT_CLAIMS_MAPPING)).toMatchObject({ kind: 'system', finess: '2A0000123', clientId: 'his' });
    const keycloak = parseClaimsMapping(JSON.stringify({ roleClaim: 'realm_access.roles', rppsClaim: 'idnps', roles: { 'relais-ide': 'practitioner' } }));
    expect(principalFromClaims({ ...base, realm_access: { roles: ['offline_access', 'relais-ide'] }, idnps: '10001234567' }, keycloak)).toMatchObject({ kind: 'practitioner', role: 'relais-ide' });
  });
  it('rejects a mapping that is not valid', () => {
    expect(() => parseClaimsMapping('{')).toThrow(/JSON/);
    expect(() => parseClaimsMapping('{"roles":{"x":"admin"}}')).toThrow(/roles.x/);
  });
});

describe('access facts', () => {
  const now = new Date('2025-06-15T10:00:00Z');
  const who: PractitionerIdentity = { rpps: '10001234567', practitionerIds: new Set(['pr1']), roleIds: new Set(['role1']), organizationIds: new Set(['org1']), finess: '750712184' };
  const consent: Consent = {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ text: 'partage' }],
    patient: { reference: 'Patient/p1' },
    performer: [{ reference: 'RelatedPerson/aidant' }],
    provision: { type: 'permit', period: { start: '2025-01-01', end: '2025-12-31' } },
  };
  it('consent: active, sharing scope, permit, in force, given by patient or carer', () => {
    expect(consentPermitsSharing(consent, 'p1', now)).toBe(true);
    expect(consentPermitsSharing(consent, 'p2', now)).toBe(false);
    expect(consentPermitsSharing({ ...consent, status: 'inactive' }, 'p1', now)).toBe(false);
    expect(consentPermitsSharing({ ...consent, provision: { type: 'deny' } }, 'p1', now)).toBe(false);
    expect(consentPermitsSharing({ ...consent, provision: { period: { end: '2025-06-14' } } }, 'p1', now)).toBe(false);
    expect(consentPermitsSharing({ ...consent, scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'research' }] } }, 'p1', now)).toBe(false);
    expect(consentPermitsSharing({ ...consent, performer: [{ reference: 'Practitioner/pr1' }] }, 'p1', now)).toBe(false);
  });
  it('care team: active, participant in force by Practitioner, PractitionerRole or RPPS identifier', () => {
    const team: CareTeam = { resourceType: 'CareTeam', status: 'active', subject: { reference: 'Patient/p1' }, participant: [{ member: { reference: 'PractitionerRole/role1' } }] };
    expect(careTeamIncludes(team, who, now)).toBe(true);
    expect(careTeamIncludes({ ...team, participant: [{ member: { identifier: { system: 'https://rpps.esante.gouv.fr', value: '10001234567' } } }] }, who, now)).toBe(true);
    expect(careTeamIncludes({ ...team, participant: [{ member: { reference: 'Practitioner/pr1' }, period: { end: '2025-05-01' } }] }, who, now)).toBe(false);
    expect(careTeamIncludes({ ...team, status: 'suspended' }, who, now)).toBe(false);
    expect(careTeamIncludes({ ...team, participant: [{ member: { reference: 'Practitioner/other' } }] }, who, now)).toBe(false);
  });
  it('agreement: executed, applicable, naming the practitioner or their organisation', () => {
    const contract: Contract = { resourceType: 'Contract', status: 'executed', applies: { start: '2024-01-01' }, signer: [{ type: { code: 'SGN' }, party: { reference: 'Organization/org1' }, signature: [] }] };
    expect(contractCovers(contract, who, now)).toBe(true);
    expect(contractCovers({ ...contract, status: 'terminated' }, who, now)).toBe(false);
    expect(contractCovers({ ...contract, signer: [], subject: [{ identifier: { system: 'https://finess.esante.gouv.fr', value: '750712184' } }] }, who, now)).toBe(true);
    expect(contractCovers({ ...contract, applies: { end: '2025-01-01' } }, who, now)).toBe(false);
  });
  it('periods: open ends, end dates ending where the day ends first', () => {
    expect(periodCovers(undefined, now)).toBe(true);
    expect(periodCovers({ end: '2025-06-15' }, new Date('2025-06-15T08:00:00Z'))).toBe(true);
    expect(periodCovers({ end: '2025-06-15' }, now)).toBe(false); // the day is over in UTC+14 at 10:00Z
    expect(periodCovers({ start: '2025-06-16' }, now)).toBe(false);
  });
});

describe('Patient compartment', () => {
  it('the committed artefact is what scripts/build-patient-compartment.ts derives from HL7\'s CompartmentDefinition', () => {
    expect(JSON.parse(readFileSync('src/fhir/definitions/r4-patient-compartment.json', 'utf8'))).toEqual(buildPatientCompartment());
  });
  it('places resources by their compartment parameters (and Task by Task.for)', () => {
    expect(compartmentParams('Observation')).toEqual(['subject', 'performer']);
    expect(compartmentParams('Practitioner')).toEqual([]);
    expect(compartmentPatients('Observation', 'o1', { subject: [{ r: 'Patient/p1', t: 'Patient', i: 'p1' }], performer: [{ r: 'Practitioner/x', t: 'Practitioner', i: 'x' }] })).toEqual(['p1']);
    expect(compartmentPatients('Task', 't1', { patient: [{ r: 'Patient/p2', t: 'Patient', i: 'p2' }] })).toEqual(['p2']);
    expect(compartmentPatients('Patient', 'p3', {})).toEqual(['p3']);
    expect(resourceClass('Task')).toBe('patient-data');
    expect(resourceClass('Consent')).toBe('access-control');
    expect(resourceClass('AuditEvent')).toBe('audit');
    expect(resourceClass('Subscription')).toBe('subscription');
  });
});

describe('platform settings', () => {
  const types = ['Patient', 'Observation', 'AuditEvent', 'Contract'];
  const config = (value: string | undefined) => ({ PLATFORM_SHARED_TYPES: value }) as unknown as RelaisConfig;
  it('shares the configured types, the default list when none is configured', () => {
    expect([...policySettingsFromConfig(config('Patient,Contract'), types).platformSharedTypes]).toEqual(['Patient', 'Contract']);
    expect(policySettingsFromConfig(config(undefined), types).platformSharedTypes.has('CarePlan')).toBe(true);
  });
  it('refuses at start a type the server does not know, or the audit trail', () => {
    expect(() => policySettingsFromConfig(config('Patient,Patiënt'), types)).toThrow(ConfigError);
    expect(() => policySettingsFromConfig(config('AuditEvent'), types)).toThrow(/audit trail/);
  });
});

describe('issue 14: requests addressed to a professional, services covering their staff', () => {
  const who: PractitionerIdentity = { rpps: '10100000011', practitionerIds: new Set(['pr-1']), roleIds: new Set(['role-1']), organizationIds: new Set(['ssiad-1', 'cabinet-2']) };
  const TASK_TYPE = 'https://relais-sante.fr/fhir/CodeSystem/relais-task-type';
  const request = (code: string, owner: string, status: Task['status'] = 'requested'): Task => ({
    resourceType: 'Task',
    id: 't1',
    status,
    intent: 'order',
    code: { coding: [{ system: TASK_TYPE, code }] },
    owner: { reference: owner },
    for: { reference: 'Patient/p1' },
    encounter: { reference: 'Encounter/e1' },
    focus: { reference: 'Encounter/e1' },
    input: [{ type: { text: 'order' }, valueReference: { reference: 'ServiceRequest/sr1' } }, { type: { text: 'technical-act' }, valueString: 'x' }],
  });

  it('a request is hers when it asks her (acceptance, support) and she owns it, by Practitioner or PractitionerRole', () => {
    expect(isRequestAddressedTo(request('nurse-acceptance', 'PractitionerRole/role-1'), who)).toBe(true);
    expect(isRequestAddressedTo(request('nurse-support', 'Practitioner/pr-1'), who)).toBe(true);
    expect(isRequestAddressedTo(request('find-nurse', 'PractitionerRole/role-1'), who)).toBe(false);
    expect(isRequestAddressedTo(request('nurse-acceptance', 'PractitionerRole/role-9'), who)).toBe(false);
    expect(namedByRequest(request('nurse-acceptance', 'PractitionerRole/role-1')).sort()).toEqual(['Encounter/e1', 'Encounter/e1', 'Patient/p1', 'ServiceRequest/sr1'].sort());
    expect(isOpenRequest(request('nurse-acceptance', 'x', 'accepted'))).toBe(true);
    expect(isOpenRequest(request('nurse-acceptance', 'x', 'rejected'))).toBe(false);
  });

  it('she answers a request (status, reason, output, note), she does not rewrite it (patient, owner, input)', () => {
    const before = request('nurse-acceptance', 'PractitionerRole/role-1') as unknown as Record<string, unknown>;
    expect(requestAnswerOnly(before, { ...before, status: 'rejected', statusReason: { text: 'complet' }, meta: { versionId: '2' } })).toBe(true);
    expect(requestAnswerOnly(before, { ...before, output: [{ type: { text: 'support-option' }, valueString: 'telephone-advice' }] })).toBe(true);
    // The same content with its keys in another order is the same request.
    expect(requestAnswerOnly(before, Object.fromEntries(Object.entries(before).reverse()))).toBe(true);
    expect(requestAnswerOnly(before, { ...before, for: { reference: 'Patient/p2' } })).toBe(false);
    expect(requestAnswerOnly(before, { ...before, owner: { reference: 'PractitionerRole/role-9' } })).toBe(false);
    expect(requestAnswerOnly(before, { ...before, input: [] })).toBe(false);
  });

  it('a care team listing an organisation covers her only through an organisation of hers under an executed convention', () => {
    const convention = (party: string, status: Contract['status'] = 'executed'): Contract => ({ resourceType: 'Contract', status, subject: [{ reference: party }], applies: { start: '2026-01-01' } });
    const now = new Date('2026-06-01T12:00:00Z');
    const covered = organizationsUnderConvention([convention('Organization/ssiad-1'), convention('Organization/cabinet-2', 'terminated'), convention('Organization/other')], who, now);
    expect([...covered]).toEqual(['ssiad-1']);
    const team = (member: string): CareTeam => ({ resourceType: 'CareTeam', status: 'active', participant: [{ member: { reference: member } }] });
    expect(careTeamIncludes(team('Organization/ssiad-1'), who, now, covered)).toBe(true);
    expect(careTeamIncludes(team('Organization/cabinet-2'), who, now, covered)).toBe(false);
    expect(careTeamIncludes(team('Organization/ssiad-1'), who, now)).toBe(false);
  });
});
