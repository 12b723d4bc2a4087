/**
 * The home-care services the network can propose when a discharge's load
 * exceeds a liberal round (a "complex case"): hospital at home (HAD, only for
 * complex technical care), home nursing services (SSIAD, SAAS) and home-help
 * services (SAA, SAADF), found in the directory as Organizations typed with
 * their FINESS category (TRE_R66), near the patient's home (Organization.address
 * geolocation), with the places each declares available
 * (relais-available-places; relais-accepting-new-patients false = full).
 * Services with places come first; a service that says nothing is listed
 * after them, as "places not declared".
 */
import type { Organization } from 'fhir/r4';
import { EXT_ACCEPTING_NEW_PATIENTS, EXT_AVAILABLE_PLACES, HOME_CARE_SERVICE_CATEGORIES, TRE_R66 } from './coordination-codes.js';
import { formatNumber } from './care-load.js';
import { addressPosition, distanceKm, type Position } from './geo-position.js';
import type { ResourceLookup } from './resource-lookup.js';

/** Acts only a hospital at home takes on (DOMAIN.md: "HAD only takes complex technical care"). */
const HAD_ACTS = new Set(['picc-line', 'implanted-port', 'infusion', 'enteral-feeding', 'palliative-care']);

export interface ServiceCandidate {
  organization: Organization;
  category: string;
  label: string;
  distanceKm: number;
  /** Places declared available (undefined: not declared). */
  places?: number;
  hasCapacity: boolean;
  explanation: string;
}

export interface ServiceSearch {
  home: Position;
  acts: string[];
  radiusKm: number;
  limit: number;
}

export async function findHomeCareServices(lookup: ResourceLookup, search: ServiceSearch): Promise<ServiceCandidate[]> {
  const codes = Object.keys(HOME_CARE_SERVICE_CATEGORIES).map((code) => `${TRE_R66}|${code}`).join(',');
  const organizations = await lookup.searchAll<Organization>('Organization', [['type', codes]]);
  const technical = search.acts.filter((a) => HAD_ACTS.has(a));
  const found: ServiceCandidate[] = [];
  for (const organization of organizations) {
    if (organization.active === false) continue;
    const category = (organization.type ?? []).flatMap((t) => t.coding ?? []).find((c) => c.system === TRE_R66 && c.code && HOME_CARE_SERVICE_CATEGORIES[c.code])?.code;
    if (!category) continue;
    const { label, kind } = HOME_CARE_SERVICE_CATEGORIES[category];
    // HAD is proposed for complex technical care only.
    if (kind === 'had' && technical.length === 0) continue;
    const position = (organization.address ?? []).map(addressPosition).find((p) => p !== undefined);
    if (!position) continue;
    const km = Math.round(distanceKm(search.home, position) * 10) / 10;
    if (km > search.radiusKm) continue;
    const places = organization.extension?.find((e) => e.url === EXT_AVAILABLE_PLACES)?.valueInteger;
    const accepting = organization.extension?.find((e) => e.url === EXT_ACCEPTING_NEW_PATIENTS)?.valueBoolean;
    const hasCapacity = accepting !== false && (places === undefined || places > 0);
    const why =
      kind === 'had'
        ? `soins techniques complexes (${technical.join(', ')})`
        : kind === 'ssiad'
          ? 'soins infirmiers et d\'hygiène à domicile, plusieurs passages par jour'
          : 'aide à domicile (lever, toilette, repas)';
    const room = places !== undefined ? `${places} place(s) disponible(s)` : accepting === false ? 'complet' : 'places disponibles non déclarées';
    found.push({
      organization,
      category,
      label,
      distanceKm: km,
      ...(places !== undefined ? { places } : {}),
      hasCapacity,
      explanation: `${label} — ${why} ; ${room} ; à ${formatNumber(km)} km du domicile`,
    });
  }
  found.sort((a, b) => Number(b.hasCapacity) - Number(a.hasCapacity) || Number(b.places !== undefined) - Number(a.places !== undefined) || a.distanceKm - b.distanceKm || (a.organization.id ?? '').localeCompare(b.organization.id ?? ''));
  return found.slice(0, search.limit);
}
