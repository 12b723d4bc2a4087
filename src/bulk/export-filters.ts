/**
 * What a job selects of one type, as a store filter over the version a scan
 * reads (ScanQuery.filter): the patient compartment at Patient and Group level,
 * `_since`, and the `_typeFilter` queries of the type (a resource matches one
 * of them: the IG's logical "or"). The access guard ANDs the caller's own
 * restriction to it, so nothing here can widen what the caller sees.
 *
 * Compartment membership uses the Patient CompartmentDefinition as the access
 * policy reads it (src/access/patient-compartment.ts: a pure table, R4's plus
 * Task): the IG's "Patient Compartment SHOULD be used as a point of reference".
 */
import { compartmentParams, isCompartmentType } from '../access/patient-compartment.js';
import type { ListingReader } from '../engine/listing-reader.js';
import type { ExportJob } from './export-job.js';

type Filter = Record<string, unknown>;

/** Whether a Patient- or Group-level export can contain this type. */
export function inPatientCompartment(resourceType: string): boolean {
  return isCompartmentType(resourceType);
}

/**
 * Resources in the compartment of one of `patients` (undefined: of any patient).
 * Named patients are matched on the entries' reference (`r`: "Patient/id"),
 * which both stores index (embedded hash index, MongoDB idx_<code>.r).
 */
export function compartmentFilter(resourceType: string, patients: readonly string[] | undefined): Filter {
  if (resourceType === 'Patient') return patients ? { id: { $in: [...patients] } } : {};
  const entry = patients ? { r: { $in: patients.map((id) => `Patient/${id}`) } } : { t: 'Patient' };
  const clauses = compartmentParams(resourceType).map((param) => ({ [`idx.${param}`]: { $elemMatch: entry } }));
  if (clauses.length === 0) return { id: { $in: [] } };
  return clauses.length === 1 ? clauses[0] : { $or: clauses };
}

function and(filters: Filter[]): Filter {
  const kept = filters.filter((f) => Object.keys(f).length > 0);
  return kept.length === 0 ? {} : kept.length === 1 ? kept[0] : { $and: kept };
}

/** The filter of one type of a job, its _typeFilter criteria compiled within the caller's view (a bad one is a 400). */
export async function exportFilter(reader: ListingReader, job: Pick<ExportJob, 'level' | 'patients' | 'since' | 'typeFilters'>, resourceType: string): Promise<Filter> {
  const parts: Filter[] = [];
  if (job.level !== 'system') parts.push(compartmentFilter(resourceType, job.patients));
  if (job.since) parts.push({ lastUpdated: { $gt: job.since } });
  const queries = job.typeFilters[resourceType] ?? [];
  if (queries.length > 0) {
    const compiled: Filter[] = [];
    for (const params of queries) compiled.push((await reader.compile([resourceType], params, true)).filter);
    parts.push(compiled.length === 1 ? compiled[0] : { $or: compiled });
  }
  return and(parts);
}
