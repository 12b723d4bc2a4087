/**
 * AuditEvent records for every access to patient data and every refusal,
 * shaped after IHE Basic Audit Log Patterns (BALP) "RESTful" events where they
 * fit R4: type `rest`, subtype the FHIR interaction, action C/R/U/D/E, outcome
 * 0 (success) / 4 (refused: minor failure) / 8 (serious failure), the agent
 * named by RPPS (people) or FINESS (a hospital's software), the server as a
 * second agent, entities for the patient(s), the resource and the query, and
 * the purpose of use (ETREAT and a BTG security label for break-the-glass).
 *
 * The query of a search is recorded base64-encoded (BALP does so) because it
 * may name patients: it lives in the audit trail, never in the logs.
 */
import type { AuditEvent, AuditEventEntity, Coding } from 'fhir/r4';
import { principalIdentifier, principalReferenceType, type Principal } from '../identity/principal.js';

export const AUDIT_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
export const RESTFUL_INTERACTION_SYSTEM = 'http://hl7.org/fhir/restful-interaction';
const ENTITY_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/object-role';
const PARTICIPATION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
const SOURCE_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/security-source-type';
const ACT_REASON_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
const ACT_CODE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const DICOM_SYSTEM = 'http://dicom.nema.org/resources/ontology/DCM';

/** FHIR restful-interaction codes (R4) used as the subtype. */
export type AuditInteraction =
  | 'read'
  | 'vread'
  | 'update'
  | 'patch'
  | 'delete'
  | 'history'
  | 'history-instance'
  | 'history-type'
  | 'history-system'
  | 'create'
  | 'search'
  | 'search-type'
  | 'search-system'
  | 'capabilities'
  | 'transaction'
  | 'batch'
  | 'operation';

export type AuditOutcome = 'success' | 'denied' | 'failed';

export interface AuditRecord {
  /** Who asked: a client's principal, or the server itself (`server`: its stated reason). */
  principal?: Principal;
  server?: { reason: string };
  /**
   * The people or organisations a write names as its author when they are not the
   * caller (a coordinator writing on someone's behalf): recorded as author agents.
   */
  onBehalfOf?: ReadonlyArray<{ reference?: string; identifier?: { system?: string; value?: string }; display?: string }>;
  interaction: AuditInteraction;
  /** Operation name without "$" when interaction is 'operation'. */
  operation?: string;
  resourceType?: string;
  id?: string;
  versionId?: string;
  /** Patient ids whose data was reached (or refused). */
  patients: readonly string[];
  outcome: AuditOutcome;
  /** Why a refusal happened (a DenialReason) or the failure's summary; no identifiers. */
  outcomeDetail?: string;
  /** The query string of a search or history (base64 in the record). */
  query?: string;
  breakTheGlass?: { reason: string };
  /**
   * The resource whose grant allowed this access when it is not the patient's
   * (a request addressed to the caller, "Task/id"): recorded as an entity, so
   * every access the request opened is traceable to it.
   */
  grantedBy?: string;
  /** Client address and request id, to relate the record to the HTTP exchange. */
  clientAddress?: string;
  requestId?: string;
  recorded?: Date;
}

const ACTIONS: Record<AuditInteraction, AuditEvent['action']> = {
  create: 'C',
  read: 'R',
  vread: 'R',
  history: 'R',
  'history-instance': 'R',
  'history-type': 'R',
  'history-system': 'R',
  search: 'E',
  'search-type': 'E',
  'search-system': 'E',
  capabilities: 'R',
  update: 'U',
  patch: 'U',
  delete: 'D',
  transaction: 'E',
  batch: 'E',
  operation: 'E',
};

const OUTCOME_CODES: Record<AuditOutcome, AuditEvent['outcome']> = { success: '0', denied: '4', failed: '8' };

function purposeOf(record: AuditRecord): Coding {
  if (record.breakTheGlass) return { system: ACT_REASON_SYSTEM, code: 'ETREAT', display: 'Emergency Treatment' };
  if (!record.principal || record.principal.kind === 'coordinator' || record.principal.kind === 'auditor' || record.principal.kind === 'platform') {
    return { system: ACT_REASON_SYSTEM, code: 'HOPERAT', display: 'healthcare operations' };
  }
  return { system: ACT_REASON_SYSTEM, code: 'TREAT', display: 'treatment' };
}

export function buildAuditEvent(record: AuditRecord, serverName: string): AuditEvent {
  const { principal } = record;
  const purpose = purposeOf(record);
  const entity: AuditEventEntity[] = record.patients.map((patient) => ({
    what: { reference: `Patient/${patient}` },
    type: { system: ENTITY_TYPE_SYSTEM, code: '1', display: 'Person' },
    role: { system: OBJECT_ROLE_SYSTEM, code: '1', display: 'Patient' },
  }));
  if (record.resourceType && record.id && !(record.resourceType === 'Patient' && record.patients.includes(record.id))) {
    entity.push({
      what: { reference: `${record.resourceType}/${record.id}${record.versionId ? `/_history/${record.versionId}` : ''}` },
      type: { system: ENTITY_TYPE_SYSTEM, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE_SYSTEM, code: '4', display: 'Domain Resource' },
    });
  }
  if (record.grantedBy) {
    entity.push({
      what: { reference: record.grantedBy },
      type: { system: ENTITY_TYPE_SYSTEM, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE_SYSTEM, code: '13', display: 'Security Resource' },
      description: 'request addressed to the caller (request grant)',
    });
  }
  if (record.query !== undefined) {
    entity.push({
      type: { system: ENTITY_TYPE_SYSTEM, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE_SYSTEM, code: '24', display: 'Query' },
      ...(record.resourceType ? { description: record.resourceType } : {}),
      query: Buffer.from(record.query, 'utf8').toString('base64'),
    });
  }
  const subtype: Coding[] = [
    { system: RESTFUL_INTERACTION_SYSTEM, code: record.interaction === 'operation' ? 'operation' : record.interaction },
  ];
  if (record.breakTheGlass) subtype.push({ system: DICOM_SYSTEM, code: '110127', display: 'Emergency Override Started' });
  const detail = [record.outcomeDetail, record.server ? `server: ${record.server.reason}` : undefined, record.breakTheGlass ? `break-the-glass: ${record.breakTheGlass.reason}` : undefined]
    .filter(Boolean)
    .join('; ');
  return {
    resourceType: 'AuditEvent',
    ...(record.breakTheGlass ? { meta: { security: [{ system: ACT_CODE_SYSTEM, code: 'BTG', display: 'break the glass' }] } } : {}),
    type: { system: AUDIT_TYPE_SYSTEM, code: 'rest', display: 'RESTful Operation' },
    subtype,
    action: ACTIONS[record.interaction],
    recorded: (record.recorded ?? new Date()).toISOString(),
    outcome: OUTCOME_CODES[record.outcome],
    ...(detail ? { outcomeDesc: detail } : {}),
    purposeOfEvent: [{ coding: [purpose] }],
    agent: [
      principal
        ? {
            type: { coding: [{ system: PARTICIPATION_SYSTEM, code: 'IRCP', display: 'information recipient' }] },
            role: [{ text: principal.role }],
            who: { type: principalReferenceType(principal), identifier: principalIdentifier(principal), ...(principal.name ? { display: principal.name } : {}) },
            altId: principal.subject,
            requestor: true,
            ...(record.clientAddress ? { network: { address: record.clientAddress, type: isIp(record.clientAddress) ? '2' : '1' } } : {}),
            purposeOfUse: [{ coding: [purpose] }],
            ...(principal.clientId ? { name: principal.clientId } : {}),
          }
        : {
            // The server acting for itself (seeding, workers): the application is the requestor.
            type: { coding: [{ system: DICOM_SYSTEM, code: '110150', display: 'Application' }] },
            role: [{ text: 'server' }],
            who: { display: serverName },
            requestor: true,
            purposeOfUse: [{ coding: [purpose] }],
          },
      {
        type: { coding: [{ system: DICOM_SYSTEM, code: '110153', display: 'Source Role ID' }] },
        who: { display: serverName },
        requestor: false,
      },
      // A write naming someone else as its author (a coordinator on a professional's behalf).
      ...(record.onBehalfOf ?? []).map((author) => ({
        type: { coding: [{ system: PARTICIPATION_SYSTEM, code: 'AUT', display: 'author (originator)' }] },
        who: {
          ...(author.reference ? { reference: author.reference } : {}),
          ...(author.identifier ? { identifier: author.identifier } : {}),
          ...(author.display ? { display: author.display } : {}),
        },
        requestor: false,
      })),
    ],
    source: {
      observer: { display: serverName },
      type: [{ system: SOURCE_TYPE_SYSTEM, code: '4', display: 'Application Server' }],
      ...(record.requestId ? { site: record.requestId } : {}),
    },
    ...(entity.length > 0 ? { entity } : {}),
  };
}

function isIp(address: string): boolean {
  return /^[0-9.]+$/.test(address) || address.includes(':');
}
