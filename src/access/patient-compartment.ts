/**
 * Membership of the Patient compartment, computed from the search index
 * entries a write already extracted (no FHIRPath at access time). The
 * parameters come from HL7's R4 CompartmentDefinition "patient" (derived by
 * scripts/build-patient-compartment.ts), plus one deliberate Relais addition:
 * R4 leaves Task out of the compartment, but in a coordination network the
 * Task *is* the patient's care (Task.for names them), so Task joins it through
 * its standard `patient` search parameter.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IndexEntries } from '../store/resource-store.js';

interface CompartmentArtefact {
  url: string;
  params: Record<string, string[]>;
}

const artefact = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'fhir', 'definitions', 'r4-patient-compartment.json'), 'utf8'),
) as CompartmentArtefact;

/** Relais additions to the R4 Patient compartment (see the file comment). */
export const RELAIS_COMPARTMENT_ADDITIONS: Readonly<Record<string, string[]>> = { Task: ['patient'] };

const PARAMS: ReadonlyMap<string, readonly string[]> = new Map(
  Object.entries({ ...artefact.params, ...RELAIS_COMPARTMENT_ADDITIONS }).map(([type, params]) => [type, Object.freeze([...params])]),
);

export const PATIENT_COMPARTMENT_URL = artefact.url;

/** The search parameters linking a resource of this type to a patient; empty when the type is never in the compartment. */
export function compartmentParams(resourceType: string): readonly string[] {
  return PARAMS.get(resourceType) ?? [];
}

/** True when resources of this type can belong to a patient's compartment. */
export function isCompartmentType(resourceType: string): boolean {
  return resourceType === 'Patient' || PARAMS.has(resourceType);
}

interface ReferenceEntry {
  r?: string;
  t?: string;
  i?: string;
}

/**
 * The ids of the patients whose compartment holds this resource: a Patient is
 * in its own compartment; any other resource through the references its
 * compartment parameters extracted.
 */
export function compartmentPatients(resourceType: string, id: string | undefined, index: IndexEntries | undefined): string[] {
  const patients = new Set<string>();
  if (resourceType === 'Patient' && id) patients.add(id);
  for (const param of compartmentParams(resourceType)) {
    for (const entry of (index?.[param] ?? []) as ReferenceEntry[]) {
      if (entry && typeof entry === 'object' && entry.t === 'Patient' && typeof entry.i === 'string') patients.add(entry.i);
    }
  }
  return [...patients];
}
