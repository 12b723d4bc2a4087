/**
 * The access matrix of the pure policy: roles × resource types × interactions
 * × the states of consent, care team and agreement (and break-the-glass,
 * whether a hospital sent the resource, and how the resource stands to a
 * request addressed to the practitioner), every cell decided by the policy and
 * compared with the rules of issues 6, 11, 12 and 14, written here independently
 * as a small truth table per role. Operations and conditional interactions, which
 * the engine decides from these same answers, have their own matrix driven
 * through the engine (engine-access-matrix.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { decidePatients, decideRequestGrant, decideType, type PatientFacts, type PolicyInteraction, type RequestReach, type TypeRequest } from '../../src/access/access-policy.js';
import type { Principal } from '../../src/identity/principal.js';
import { parseScopes } from '../../src/identity/smart-scopes.js';

const PRINCIPALS: Record<string, Principal> = {
  nurse: { kind: 'practitioner', subject: 'n1', issuer: 'i', role: 'nurse', rpps: '10001234567', scopes: parseScopes('user/*.cruds') },
  coordinator: { kind: 'coordinator', subject: 'c1', issuer: 'i', role: 'coordinator', scopes: parseScopes('user/*.cruds') },
  hospital: { kind: 'system', subject: 'h1', issuer: 'i', role: 'hospital', finess: '750712184', clientId: 'his', scopes: parseScopes('system/*.cruds') },
  auditor: { kind: 'auditor', subject: 'a1', issuer: 'i', role: 'auditor', scopes: parseScopes('user/*.cruds') },
  platform: { kind: 'platform', subject: 'ars', issuer: 'i', role: 'platform', clientId: 'ars', scopes: parseScopes('system/*.rs') },
};

const TYPES = ['Patient', 'Observation', 'Task', 'ServiceRequest', 'Encounter', 'MedicationDispense', 'Flag', 'Consent', 'CareTeam', 'Contract', 'AuditEvent', 'Practitioner', 'Organization', 'Medication', 'StructureDefinition', 'Binary', 'Subscription'];
type Cell = PolicyInteraction;
const INTERACTIONS: Cell[] = [
  'create',
  'read',
  'vread',
  'update',
  'patch',
  'delete',
  'history-instance',
  'history-type',
  'history-system',
  'search-type',
  'search-system',
];

const PATIENT_DATA = new Set(['Patient', 'Observation', 'Task', 'ServiceRequest', 'Encounter', 'MedicationDispense', 'Flag']);
const ACCESS_CONTROL = new Set(['Consent', 'CareTeam']);
const DIRECTORY_OR_REFERENCE = new Set(['Practitioner', 'Organization', 'Medication']);
const HOSPITAL_CREATES = new Set(['Patient', 'Observation', 'Task', 'ServiceRequest', 'Encounter', 'MedicationDispense', 'CareTeam', 'Practitioner', 'Organization', 'Binary']);
/** Issue 14: what a hospital may update of what it sent (the stay and what it orders for the return home), among TYPES. */
const HOSPITAL_UPDATES = new Set(['ServiceRequest', 'Encounter', 'MedicationDispense']);
/** What a regional platform synchronises by default (PLATFORM_SHARED_TYPES), among TYPES. */
const PLATFORM_SHARED = new Set(['Patient', 'Observation', 'Task', 'ServiceRequest', 'Encounter', 'Flag', 'Consent', 'CareTeam', 'Practitioner', 'Organization']);

const letter = (i: Cell): string =>
  i === 'create' ? 'c' : i === 'update' || i === 'patch' ? 'u' : i === 'delete' ? 'd' : ['read', 'vread', 'history-instance'].includes(i) ? 'r' : 's';

type State = PatientFacts & { btg: boolean; sentByCaller: boolean; request: RequestReach };

/** The rules of issues 6, 11, 12 and 14, restated: the expected outcome for one cell. */
function expected(role: string, type: string, i: Cell, f: State): boolean {
  const p = letter(i);
  const habilitated = f.consent && f.careTeam && f.agreement;
  if (type === 'Subscription') {
    // Issue 12: a subscription is its creator's. Every role but the auditor may create one, then reaches
    // only its own ("sentByCaller" = created by the caller); this platform's token grants reads only (system/*.rs).
    if (role === 'auditor') return false;
    if (role === 'platform' && !'rs'.includes(p)) return false;
    return p === 'c' || f.sentByCaller;
  }
  // Issue 14: a request addressed to her is read and answered; what an open one names is read.
  const byRequest = (f.request === 'addressed' && 'rsu'.includes(p)) || (f.request === 'named-by-open-request' && 'rs'.includes(p));
  switch (role) {
    case 'nurse':
      if (PATIENT_DATA.has(type)) return ('crus'.includes(p) && habilitated) || (f.btg && 'rs'.includes(p)) || byRequest;
      if (ACCESS_CONTROL.has(type)) return 'rs'.includes(p) && (habilitated || f.btg || byRequest);
      if (DIRECTORY_OR_REFERENCE.has(type) || type === 'StructureDefinition') return 'rs'.includes(p);
      return false;
    case 'coordinator':
      if (type === 'AuditEvent') return false;
      if (type === 'StructureDefinition') return 'rs'.includes(p);
      if (PATIENT_DATA.has(type) || ACCESS_CONTROL.has(type)) return f.inNetwork;
      return true;
    case 'hospital':
      if (p === 'c') return HOSPITAL_CREATES.has(type);
      if (p === 'u') return HOSPITAL_UPDATES.has(type) && f.sentByCaller;
      if ('rs'.includes(p)) return (PATIENT_DATA.has(type) || ['Practitioner', 'Organization', 'Binary'].includes(type)) && f.sentByCaller;
      return false;
    case 'auditor':
      return type === 'AuditEvent' && 'rs'.includes(p);
    case 'platform':
      // Read only, the shared types only, whatever the consents (a platform is not a care team member).
      return PLATFORM_SHARED.has(type) && 'rs'.includes(p);
    default:
      return false;
  }
}

/** What the engine does with the policy for one cell: the type decision, then the instance decision (resource-reach.ts). */
function decide(role: string, type: string, i: Cell, f: State): boolean {
  const principal = PRINCIPALS[role];
  const request: TypeRequest = { principal, interaction: i, resourceType: type };
  if (f.btg) request.breakTheGlass = { reason: 'patient unconscious at home, GP unreachable' };
  const decision = decideType(request);
  if (!decision.allowed) return false;
  const r = decision.restriction;
  if (r.kind === 'unrestricted') return true;
  if (r.kind === 'own-submissions') return f.sentByCaller;
  const byPatient = decidePatients(principal, r, ['p1'], () => f, decision.breakTheGlass);
  if (byPatient.allowed && !byPatient.breakTheGlass) return true;
  return decideRequestGrant(principal, i, f.request) || byPatient.allowed;
}

describe('access matrix', () => {
  it('decides every cell as issues 6, 11, 12 and 14 specify', () => {
    const states: State[] = [];
    for (let bits = 0; bits < 64; bits++) {
      for (const request of ['none', 'addressed', 'named-by-open-request'] as const) {
        states.push({
          consent: !!(bits & 1),
          careTeam: !!(bits & 2),
          agreement: !!(bits & 4),
          inNetwork: !!(bits & 8),
          btg: !!(bits & 16),
          sentByCaller: !!(bits & 32),
          request,
        });
      }
    }
    let cells = 0;
    let allowed = 0;
    const mismatches: string[] = [];
    for (const role of Object.keys(PRINCIPALS)) {
      for (const type of TYPES) {
        for (const interaction of INTERACTIONS) {
          for (const state of states) {
            cells++;
            const got = decide(role, type, interaction, state);
            if (got) allowed++;
            const want = expected(role, type, interaction, state);
            if (got !== want) mismatches.push(`${role} ${interaction} ${type} ${JSON.stringify(state)}: got ${got}, want ${want}`);
          }
        }
      }
    }
    console.log(`access matrix: ${Object.keys(PRINCIPALS).length} roles × ${TYPES.length} types × ${INTERACTIONS.length} interactions × ${states.length} states = ${cells} cells (${allowed} allowed, ${cells - allowed} denied)`);
    expect(mismatches.filter((m, k) => k < 5 || !mismatches[k - 1].startsWith(m.split(' {')[0]))).toEqual([]);
  });

  it('revoking any one of consent, care team or agreement cuts a practitioner off at once', () => {
    const full: PatientFacts = { consent: true, careTeam: true, agreement: true, inNetwork: true };
    const decision = decideType({ principal: PRINCIPALS.nurse, interaction: 'read', resourceType: 'Observation' });
    expect(decision.allowed && decision.restriction.kind).toBe('patient-compartment');
    if (!decision.allowed || decision.restriction.kind !== 'patient-compartment') return;
    expect(decidePatients(PRINCIPALS.nurse, decision.restriction, ['p1'], () => full, false).allowed).toBe(true);
    for (const missing of ['consent', 'careTeam', 'agreement'] as const) {
      const result = decidePatients(PRINCIPALS.nurse, decision.restriction, ['p1'], () => ({ ...full, [missing]: false }), false);
      expect(result).toMatchObject({ allowed: false, status: 404 });
    }
  });

  it('needs every patient a resource names to be reachable, and treats resources naming none as coordinators-only', () => {
    const decision = decideType({ principal: PRINCIPALS.nurse, interaction: 'read', resourceType: 'Observation' });
    if (!decision.allowed || decision.restriction.kind !== 'patient-compartment') throw new Error('expected a compartment grant');
    const facts = (p: string): PatientFacts => ({ consent: p === 'p1', careTeam: true, agreement: true, inNetwork: true });
    expect(decidePatients(PRINCIPALS.nurse, decision.restriction, ['p1', 'p2'], facts, false).allowed).toBe(false);
    expect(decidePatients(PRINCIPALS.nurse, decision.restriction, [], facts, false).allowed).toBe(false);
    expect(decidePatients(PRINCIPALS.coordinator, { kind: 'patient-compartment' }, [], facts, false).allowed).toBe(true);
  });

  it('binds patient/ scopes to the launch patient', () => {
    const app: Principal = { ...PRINCIPALS.nurse, scopes: parseScopes('patient/*.rs'), launchPatient: 'p1' };
    const decision = decideType({ principal: app, interaction: 'read', resourceType: 'Observation' });
    if (!decision.allowed || decision.restriction.kind !== 'patient-compartment') throw new Error('expected a compartment grant');
    const ok = (): PatientFacts => ({ consent: true, careTeam: true, agreement: true, inNetwork: true });
    expect(decidePatients(app, decision.restriction, ['p1'], ok, false).allowed).toBe(true);
    expect(decidePatients(app, decision.restriction, ['p2'], ok, false).allowed).toBe(false);
    const noLaunch = decideType({ principal: { ...app, launchPatient: undefined }, interaction: 'read', resourceType: 'Observation' });
    expect(noLaunch).toMatchObject({ allowed: false, reason: 'launch-patient', status: 403 });
  });

  it('refuses writes of the audit trail to everyone', () => {
    for (const role of Object.keys(PRINCIPALS)) {
      for (const interaction of ['create', 'update', 'patch', 'delete'] as const) {
        expect(decideType({ principal: PRINCIPALS[role], interaction, resourceType: 'AuditEvent' }).allowed).toBe(false);
      }
    }
  });

  it('refuses a permission the token scopes do not carry, even when the role allows it', () => {
    const readOnly: Principal = { ...PRINCIPALS.coordinator, scopes: parseScopes('user/*.rs') };
    expect(decideType({ principal: readOnly, interaction: 'create', resourceType: 'Patient' })).toMatchObject({ allowed: false, reason: 'no-scope' });
    const wrongContext: Principal = { ...PRINCIPALS.hospital, scopes: parseScopes('user/*.cruds') };
    expect(decideType({ principal: wrongContext, interaction: 'create', resourceType: 'ServiceRequest' })).toMatchObject({ allowed: false, reason: 'no-scope' });
    // A platform's token is a system client's: user/ scopes grant it nothing.
    const platformWithUserScope: Principal = { ...PRINCIPALS.platform, scopes: parseScopes('user/*.rs') };
    expect(decideType({ principal: platformWithUserScope, interaction: 'read', resourceType: 'Patient' })).toMatchObject({ allowed: false, reason: 'no-scope' });
  });

  it('shares with platforms exactly the configured types', () => {
    const settings = { platformSharedTypes: new Set(['Patient']) };
    expect(decideType({ principal: PRINCIPALS.platform, interaction: 'search-type', resourceType: 'Patient', settings }).allowed).toBe(true);
    expect(decideType({ principal: PRINCIPALS.platform, interaction: 'search-type', resourceType: 'Observation', settings })).toMatchObject({ allowed: false, reason: 'not-shared' });
    expect(decideType({ principal: PRINCIPALS.platform, interaction: 'create', resourceType: 'Patient', settings })).toMatchObject({ allowed: false, reason: 'role' });
  });
});
