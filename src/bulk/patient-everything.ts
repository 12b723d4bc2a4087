/**
 * Patient/[id]/$everything (R4, http://hl7.org/fhir/OperationDefinition/Patient-everything):
 * the patient's whole record in one call — the resources of the Patient
 * compartment (the network's: R4's plus Task) and the resources they reference
 * that help read them (practitioners and their roles, organisations,
 * locations, services, medications, devices) — as a searchset Bundle, paged
 * with next links when it exceeds `_count`.
 *
 * Parameters: `start` / `end` (care dates: applied through each type's `date`
 * search parameter where it has one; a type without a care date is not
 * filtered by them), `_since` (changed after that instant), `_type` (only
 * these types), `_count` (page size, default MAX_PAGE_SIZE; the operation's
 * comment: "unless the client requests otherwise, the server returns the
 * entire result set in a single bundle").
 *
 * Access: the patient must be one the caller may read (the operation's rule:
 * read-instance, else 404 like a read); everything is then read through ONE
 * listing of the caller's per page, so every query is restricted to what the
 * caller may see (a nurse sees her patient's record, not resources naming other
 * patients too) and audited like a search, naming the patients returned.
 * Paging uses the search's paging snapshots: the page-one list of matches is
 * kept under a cursor that only this caller can use (search-result-sets.ts).
 */
import type { Bundle, BundleEntry, BundleLink, Resource } from 'fhir/r4';
import { pageUrl } from '../engine/bundle-links.js';
import type { ListingReader } from '../engine/listing-reader.js';
import type { OperationRequest, OperationResult } from '../engine/operation.js';
import { errors } from '../errors.js';
import { rangeOfDateString } from '../search/date-range.js';
import type { SearchParameterRegistry } from '../search/search-parameters.js';
import type { MatchRef, StoredVersion } from '../store/resource-store.js';
import type { FhirOperation } from '../operations/operation-registry.js';
import { compartmentFilter, inPatientCompartment } from './export-filters.js';

/** What $everything adds beyond the compartment, when the record references it (the operation: "linked practitioners, medications, locations, organizations etc."). */
export const EVERYTHING_SUPPORTING_TYPES: readonly string[] = ['Practitioner', 'PractitionerRole', 'Organization', 'Location', 'HealthcareService', 'Medication', 'Device', 'Substance'];

const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
/** Most matches one $everything lists (a record this large should be exported with Patient/$export). */
const MAX_MATCHES = 200_000;

interface EverythingDeps {
  searchParameters: SearchParameterRegistry;
  resourceTypes: readonly string[];
  maxCount: number;
}

interface Query {
  start?: string;
  end?: string;
  since?: string;
  types?: string[];
  count: number;
  cursor?: string;
  offset: number;
}

type Filter = Record<string, unknown>;

function parse(request: OperationRequest, deps: EverythingDeps): Query {
  const query: Query = { count: deps.maxCount, offset: 0 };
  const pairs: Array<[string, string]> = [...request.query];
  for (const parameter of (request.body as { parameter?: Array<{ name: string; valueString?: string; valueDate?: string; valueInstant?: string; valueCode?: string; valueInteger?: number }> } | undefined)?.parameter ?? []) {
    const value = parameter.valueString ?? parameter.valueDate ?? parameter.valueInstant ?? parameter.valueCode ?? (parameter.valueInteger !== undefined ? String(parameter.valueInteger) : undefined);
    if (value !== undefined) pairs.push([parameter.name, value]);
  }
  for (const [name, raw] of pairs) {
    const value = raw.trim();
    switch (name) {
      case 'start':
      case 'end':
        if (!rangeOfDateString(value)) throw errors.invalidParameter(name, `${name} must be a date (YYYY, YYYY-MM, YYYY-MM-DD or a dateTime), got '${raw}'`);
        query[name] = value;
        break;
      case '_since': {
        const instant = value.replace(/ (\d{2}:\d{2})$/, '+$1');
        const range = INSTANT.test(instant) ? rangeOfDateString(instant) : undefined;
        if (!range) throw errors.invalidParameter('_since', `_since must be a FHIR instant such as 2024-01-31T10:00:00Z, got '${raw}'`);
        query.since = range.lo;
        break;
      }
      case '_type':
        for (const type of value.split(',').map((t) => t.trim()).filter(Boolean)) {
          if (!deps.resourceTypes.includes(type)) throw errors.invalidParameter('_type', `_type names '${type}', which is not a FHIR R4 resource type`);
          (query.types ??= []).includes(type) || query.types.push(type);
        }
        break;
      case '_count':
        if (!/^\d+$/.test(value) || Number(value) === 0) throw errors.invalidParameter('_count', `_count must be a positive integer, got '${raw}'`);
        query.count = Math.min(Number(value), deps.maxCount);
        break;
      case '_cursor':
        query.cursor = value;
        break;
      case '_offset':
        if (!/^\d+$/.test(value)) throw errors.invalidParameter('_offset', '_offset must be a non-negative integer');
        query.offset = Number(value);
        break;
      case '_format':
      case '_pretty':
        break;
      default:
        throw errors.notSupportedParameter(name, `Patient/$everything takes start, end, _since, _type and _count; '${name}' is not one of them`);
    }
  }
  return query;
}

export function patientEverythingOperation(deps: EverythingDeps): FhirOperation {
  return {
    name: 'everything',
    definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything',
    levels: ['instance'],
    resourceTypes: ['Patient'],
    affectsState: false,
    access: { instance: { requires: 'read-instance', reveals: 'readable-only' } },
    invoke: (request) => everything(request, deps),
  };
}

async function everything(request: OperationRequest, deps: EverythingDeps): Promise<OperationResult> {
  const patientId = request.id!;
  if (!ID.test(patientId)) throw errors.invalidId(patientId);
  const query = parse(request, deps);
  const session = request.session;
  const compartment = ['Patient', ...deps.resourceTypes.filter((t) => t !== 'Patient' && inPatientCompartment(t))];
  const wanted = [...compartment, ...EVERYTHING_SUPPORTING_TYPES].filter((t) => !query.types || query.types.includes(t));
  const allowed = await session.maySearch(wanted);
  const types = wanted.filter((_, i) => allowed[i]);
  if (types.length === 0) return { status: 200, resource: bundle(0, [selfLink(session.baseUrl, patientId, query)], []) };
  const description = `Patient/${patientId}/$everything?${new URLSearchParams(linkParams(query)).toString()}`;

  return session.listing(types, description, async (reader) => {
    let refs: MatchRef[];
    let total: number;
    let cursor = query.cursor;
    if (cursor) {
      const slice = await reader.loadResultSet(cursor, query.offset, query.count);
      if (!slice) throw errors.searchExpired();
      refs = slice.refs;
      total = slice.total;
    } else {
      const all = await matches(reader, deps, patientId, query, types.filter((t) => compartment.includes(t)), types.filter((t) => !compartment.includes(t)));
      total = all.length;
      if (all.length > query.count) cursor = await reader.saveResultSet(all);
      refs = all.slice(query.offset, query.offset + query.count);
    }
    const versions = await fetchInOrder(reader, refs);
    const links: BundleLink[] = [selfLink(reader.baseUrl, patientId, query, cursor)];
    if (cursor && query.offset + query.count < total) links.push({ relation: 'next', url: pageUrl(`${reader.baseUrl}/Patient/${patientId}/$everything`, [...linkParams(query), ['_cursor', cursor], ['_offset', String(query.offset + query.count)]]) });
    if (cursor && query.offset > 0) links.push({ relation: 'previous', url: pageUrl(`${reader.baseUrl}/Patient/${patientId}/$everything`, [...linkParams(query), ['_cursor', cursor], ['_offset', String(Math.max(0, query.offset - query.count))]]) });
    const entries: BundleEntry<Resource>[] = versions.map((v) => ({
      fullUrl: `${reader.baseUrl}/${v.resourceType}/${v.id}`,
      resource: v.resource!,
      search: { mode: compartment.includes(v.resourceType) ? 'match' : 'include' },
    }));
    return { status: 200, resource: bundle(total, links, entries) };
  });
}

function linkParams(query: Query): Array<[string, string]> {
  const params: Array<[string, string]> = [];
  if (query.start) params.push(['start', query.start]);
  if (query.end) params.push(['end', query.end]);
  if (query.since) params.push(['_since', query.since]);
  if (query.types) params.push(['_type', query.types.join(',')]);
  params.push(['_count', String(query.count)]);
  return params;
}

function selfLink(baseUrl: string, patientId: string, query: Query, cursor?: string): BundleLink {
  const paging: Array<[string, string]> = cursor && query.offset > 0 ? [['_cursor', cursor], ['_offset', String(query.offset)]] : [];
  return { relation: 'self', url: pageUrl(`${baseUrl}/Patient/${patientId}/$everything`, [...linkParams(query), ...paging]) };
}

function bundle(total: number, link: BundleLink[], entry: BundleEntry<Resource>[]): Bundle<Resource> {
  return { resourceType: 'Bundle', type: 'searchset', total, link, ...(entry.length > 0 ? { entry } : {}) };
}

/**
 * Every match of the record, in order: the Patient, the compartment's
 * resources type by type, then the supporting resources they reference —
 * identities only (the page's bodies are read afterwards).
 */
async function matches(reader: ListingReader, deps: EverythingDeps, patientId: string, query: Query, compartmentTypes: string[], supportingTypes: string[]): Promise<MatchRef[]> {
  const refs: MatchRef[] = [];
  const referenced = new Map<string, Set<string>>();
  const since: Filter[] = query.since ? [{ lastUpdated: { $gt: query.since } }] : [];
  for (const type of compartmentTypes) {
    const parts: Filter[] = [compartmentFilter(type, [patientId]), ...since];
    if ((query.start || query.end) && deps.searchParameters.get(type, 'date')) {
      const criteria: Array<[string, string]> = [...(query.start ? ([['date', `ge${query.start}`]] as Array<[string, string]>) : []), ...(query.end ? ([['date', `le${query.end}`]] as Array<[string, string]>) : [])];
      parts.push((await reader.compile([type], criteria, true)).filter);
    }
    const filter = { $and: parts };
    const { versions } = await reader.search({ resourceTypes: [type], filter, sort: [{ path: 'id', direction: 1 }], offset: 0, count: MAX_MATCHES + 1, withTotal: false, idsOnly: true });
    if (refs.length + versions.length > MAX_MATCHES) throw errors.searchTooCostly(`This record holds more than ${MAX_MATCHES} resources: export it with Patient/$export (patient=Patient/${patientId})`);
    for (const v of versions) refs.push({ resourceType: v.resourceType, id: v.id });
    if (versions.length === 0 || supportingTypes.length === 0) continue;
    // What these resources reference, among the supporting types: distinct references, no bodies read.
    // Only the reference parameters that can point at a supporting type (each one is a distinct query).
    const referencing = deps.searchParameters.allFor(type).filter((p) => p.type === 'reference' && (!p.targets || p.targets.some((t) => supportingTypes.includes(t))));
    for (const parameter of referencing) {
      for (const value of await reader.distinct({ resourceTypes: [type], filter }, `idx.${parameter.code}.r`)) {
        if (typeof value !== 'string') continue;
        const [target, id] = value.split('/');
        if (!supportingTypes.includes(target) || !id) continue;
        let ids = referenced.get(target);
        if (!ids) referenced.set(target, (ids = new Set()));
        ids.add(id);
      }
    }
  }
  for (const type of supportingTypes) {
    const ids = referenced.get(type);
    if (!ids || ids.size === 0) continue;
    const filter: Filter = since.length > 0 ? { $and: [{ id: { $in: [...ids] } }, ...since] } : { id: { $in: [...ids] } };
    const { versions } = await reader.search({ resourceTypes: [type], filter, sort: [{ path: 'id', direction: 1 }], offset: 0, count: ids.size, withTotal: false, idsOnly: true });
    for (const v of versions) refs.push({ resourceType: v.resourceType, id: v.id });
  }
  return refs;
}

/** The current versions of a page's references, in the page's order; one deleted (or no longer visible) since page one is left out. */
async function fetchInOrder(reader: ListingReader, refs: MatchRef[]): Promise<StoredVersion[]> {
  const byType = new Map<string, string[]>();
  for (const ref of refs) byType.set(ref.resourceType, [...(byType.get(ref.resourceType) ?? []), ref.id]);
  const found = new Map<string, StoredVersion>();
  for (const [type, ids] of byType) {
    const { versions } = await reader.search({ resourceTypes: [type], filter: { id: { $in: ids } }, offset: 0, count: ids.length, withTotal: false });
    for (const v of versions) found.set(`${v.resourceType}/${v.id}`, v);
  }
  return refs.map((r) => found.get(`${r.resourceType}/${r.id}`)).filter((v): v is StoredVersion => v !== undefined);
}
