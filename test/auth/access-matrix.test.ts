/**
 * The access matrix: roles × resource types × interactions × the states of
 * consent, care team and agreement (and break-the-glass), every cell decided
 * by the policy and compared with the rule the issue states, written here
 * independently as a small truth table per role.
 */
import { describe, expect, it } from 'vitest';
import { decidePatients, decideType, type PatientFacts, type PolicyInteraction, type TypeRequest } from '../../src/access/access-policy.js';
import type { Principal, PrincipalKind } from '../../src/identity/principal.js';
import { parseScopes } from '../../src/identity/smart-scopes.js';

const PRINCIPALS: Record<string, Principal> = {
  nurse: { kind: 'practitioner', subject: 'n1', issuer: 'i', role: 'nurse', rpps: '10001234567', scopes: parseScopes('user/*.cruds') },
  coordinator: { kind: 'coordinator', subject: 'c1', issuer: 'i', role: 'coordinator', scopes: parseScopes('user/*.cruds') },
  hospital: { kind: 'system', subject: 'h1', issuer: 'i', role: 'hospital', finess: '750712184', clientId: 'his', scopes: parseScopes('system/*.cruds') },
  auditor: { kind: 'auditor', subject: 'a1', issuer: 'i', role: 'auditor', scopes: parseScopes('user/*.cruds') },
};

const TYPES = ['Patient', 'Observation', 'Task', 'ServiceRequest', 'Consent', 'CareTeam', 'Contract', 'AuditEvent', 'Practitioner', 'Organization', 'Medication', 'StructureDefinition', 'Binary', 'Subscription'];
type Cell = PolicyInteraction | '$match' | '$everything' | '$expunge';
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
  '$match',
  '$everything',
  '$expunge',
];

const PATIENT_DATA = new Set(['Patient', 'Observation', 'Task', 'ServiceRequest']);
const ACCESS_CONTROL = new Set(['Consent', 'CareTeam']);
const DIRECTORY_OR_REFERENCE = new Set(['Practitioner', 'Organization', 'Medication']);
const HOSPITAL_CREATES = new Set(['Patient', 'Observation', 'Task', 'ServiceRequest', 'CareTeam', 'Practitioner', 'Organization', 'Binary']);

const letter = (i: Cell): string =>
  i === 'create' ? 'c' : i === 'update' || i === 'patch' || i === '$expunge' ? 'u' : i === 'delete' ? 'd' : ['read', 'vread', 'history-instance', '$everything'].includes(i) ? 'r' : 's';

/** The rules of issue 6, restated: the expected outcome for one cell. */
function expected(role: string, type: string, i: Cell, f: PatientFacts & { btg: boolean; sentByCaller: boolean }): boolean {
  const p = letter(i);
  const habilitated = f.consent && f.careTeam && f.agreement;
  switch (role) {
    case 'nurse':
      if (i === '$match' || i === '$expunge') return false;
      if (PATIENT_DATA.has(type)) return 'crus'.includes(p) && (habilitated || (f.btg && 'rs'.includes(p)));
      if (ACCESS_CONTROL.has(type)) return 'rs'.includes(p) && (habilitated || f.btg);
      if (DIRECTORY_OR_REFERENCE.has(type) || type === 'StructureDefinition') return 'rs'.includes(p);
      return false;
    case 'coordinator':
      if (i === '$match') return type === 'Patient';
      if (type === 'AuditEvent') return false;
      if (type === 'StructureDefinition') return 'rs'.includes(p);
      if (PATIENT_DATA.has(type) || ACCESS_CONTROL.has(type)) return f.inNetwork;
      return true;
    case 'hospital':
      if (i === '$match') return type === 'Patient';
      if (i === '$expunge') return false;
      if (p === 'c') return HOSPITAL_CREATES.has(type);
      if ('rs'.includes(p)) return (PATIENT_DATA.has(type) || ['Practitioner', 'Organization', 'Binary', 'Subscription'].includes(type)) && f.sentByCaller;
      return false;
    case 'auditor':
      // Read-only operations follow the read/search rule; $match is a Patient lookup.
      return type === 'AuditEvent' && 'rs'.includes(p) && i !== '$match';
    default:
      return false;
  }
}

/** What the engine does with the policy for one cell: the type decision, then the instance decision. */
function decide(role: string, type: string, i: Cell, f: PatientFacts & { btg: boolean; sentByCaller: boolean }): boolean {
  const principal = PRINCIPALS[role];
  const request: TypeRequest = i.startsWith('$')
    ? {
        principal,
        interaction: 'operation',
        resourceType: type,
        operation: { name: i.slice(1), affectsState: i === '$expunge', level: i === '$match' ? 'type' : 'instance' },
      }
    : { principal, interaction: i as PolicyInteraction, resourceType: type };
  if (f.btg) request.breakTheGlass = { reason: 'patient unconscious at home, GP unreachable' };
  const decision = decideType(request);
  if (!decision.allowed) return false;
  const r = decision.restriction;
  if (r.kind === 'unrestricted') return true;
  if (r.kind === 'own-submissions') return f.sentByCaller;
  return decidePatients(principal, r, ['p1'], () => f, decision.breakTheGlass).allowed;
}

describe('access matrix', () => {
  it('decides every cell as issue 6 specifies', () => {
    const states: Array<PatientFacts & { btg: boolean; sentByCaller: boolean }> = [];
    for (let bits = 0; bits < 64; bits++) {
      states.push({
        consent: !!(bits & 1),
        careTeam: !!(bits & 2),
        agreement: !!(bits & 4),
        inNetwork: !!(bits & 8),
        btg: !!(bits & 16),
        sentByCaller: !!(bits & 32),
      });
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
    expect(cells).toBe(4 * 14 * 14 * 64);
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
    const kinds: PrincipalKind[] = ['practitioner', 'coordinator', 'system', 'auditor'];
    expect(kinds).toHaveLength(4);
  });
});
