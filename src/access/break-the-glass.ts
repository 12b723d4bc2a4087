/**
 * The alert telling the coordination team that a practitioner opened
 * patients' records by break-the-glass in one request, addressed to the
 * network's coordination team (COORDINATION_TEAM_FINESS) as the discharge
 * intake addresses it.
 */
import type { Communication, Reference } from 'fhir/r4';
import { COMMUNICATION_CATEGORY } from '../coordination/coordination-codes.js';
import type { ClientCaller } from '../engine/caller.js';
import { search } from '../engine/interactions/search.js';
import { FINESS_SYSTEM, RPPS_SYSTEM } from '../identity/principal.js';
import type { GuardDeps } from './guard-deps.js';

/** The network's coordination team, as configured (COORDINATION_TEAM_FINESS). */
export async function coordinationTeam(deps: GuardDeps): Promise<Reference> {
  const finess = deps.settings.coordinationTeamFiness;
  if (!finess) return { display: 'Équipe de coordination du réseau' };
  const found = await search(deps.ctx, 'Organization', [['identifier', `${FINESS_SYSTEM}|${finess}`], ['_count', '1']]);
  const organization = found.entry?.find((e) => e.search?.mode === 'match')?.resource;
  if (organization?.id) return { reference: `Organization/${organization.id}` };
  return { identifier: { system: FINESS_SYSTEM, value: finess }, display: 'Équipe de coordination du réseau' };
}

/**
 * Communication.subject holds one patient at most (R4: 0..1), so the patients
 * are listed in `about` (and named in the text); with a single patient it is
 * also the subject, so the alert is found among that patient's
 * communications. A page of results is bounded by _count, so the list is too
 * (each further page is its own request and alert).
 */
export function breakTheGlassAlert(caller: ClientCaller, patients: readonly string[], team: Reference): Communication {
  const principal = caller.principal;
  const who = principal.name ?? (principal.rpps ? `RPPS ${principal.rpps}` : principal.subject);
  const records = patients.length === 1 ? 'au dossier' : `aux dossiers de ${patients.length} patients`;
  return {
    resourceType: 'Communication',
    status: 'completed',
    category: [{ coding: [{ system: COMMUNICATION_CATEGORY, code: 'alert', display: 'Alerte' }] }],
    priority: 'urgent',
    ...(patients.length === 1 ? { subject: { reference: `Patient/${patients[0]}` } } : {}),
    about: patients.map((p) => ({ reference: `Patient/${p}` })),
    recipient: [team],
    ...(principal.rpps ? { sender: { identifier: { system: RPPS_SYSTEM, value: principal.rpps }, display: who } } : {}),
    sent: new Date().toISOString(),
    payload: [
      { contentString: `Accès en urgence (bris de glace) ${records} par ${who} : ${caller.breakTheGlass?.reason ?? ''}` },
      ...(patients.length > 1 ? [{ contentString: `Patients : ${patients.map((p) => `Patient/${p}`).join(', ')}` }] : []),
    ],
  };
}
