/**
 * Generates the snapshot of a constraint StructureDefinition from its
 * differential and its base's snapshot: the network authors differentials only
 * (what it changes), and this produces the full element list that publishers,
 * integrators and the validator read.
 *
 * Supported differential features (those the network's profiles use): changes to
 * existing elements (cardinality, types, fixed/pattern values, bindings,
 * constraints, slicing, documentation), slices (`path:sliceName`), and
 * constraints on children of complex datatypes (`Patient.identifier:ins.system`),
 * whose element definitions are taken from the datatype's own StructureDefinition.
 * Constraints keep the `source` of where they were defined, so the validator can
 * tell a base invariant (checked for every resource) from a profile's own.
 */
import type { ElementDefinition, StructureDefinition } from 'fhir/r4';

export type ResolveDefinition = (url: string) => StructureDefinition | undefined;

const CORE = 'http://hl7.org/fhir/StructureDefinition/';

function stripSlices(id: string): string {
  return id.split('.').map((part) => part.split(':')[0]).join('.');
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

export class SnapshotError extends Error {}

export function generateSnapshot(profile: StructureDefinition, resolve: ResolveDefinition): ElementDefinition[] {
  if (!profile.baseDefinition) throw new SnapshotError(`${profile.url}: no baseDefinition`);
  const base = resolve(profile.baseDefinition);
  if (!base?.snapshot) throw new SnapshotError(`${profile.url}: base ${profile.baseDefinition} unknown or without snapshot`);
  const elements: ElementDefinition[] = base.snapshot.element.map((e) => {
    const copy = clone(e);
    copy.id ??= copy.path;
    return copy;
  });
  const indexOf = (id: string) => elements.findIndex((e) => e.id === id);
  /** Index just past the subtree (children and slices) of the element with this id. */
  const endOfSubtree = (index: number) => {
    const id = elements[index].id!;
    let i = index + 1;
    while (i < elements.length && (elements[i].id!.startsWith(id + '.') || elements[i].id!.startsWith(id + ':'))) i++;
    return i;
  };
  const expandChildren = (parentIndex: number) => {
    const parent = elements[parentIndex];
    const types = parent.type ?? [];
    if (types.length !== 1) throw new SnapshotError(`${profile.url}: cannot constrain children of ${parent.id} (it has ${types.length} types)`);
    const typeProfile = types[0].profile?.[0];
    const typeDefinition = (typeProfile && resolve(typeProfile)) || resolve(CORE + types[0].code);
    if (!typeDefinition?.snapshot) throw new SnapshotError(`${profile.url}: no definition for type ${types[0].code} of ${parent.id}`);
    const children = typeDefinition.snapshot.element.slice(1).map((child) => {
      const copy = clone(child);
      const rest = (child.id ?? child.path).slice((typeDefinition.snapshot!.element[0].id ?? typeDefinition.type).length);
      copy.id = parent.id + rest;
      copy.path = parent.path + child.path.slice(typeDefinition.snapshot!.element[0].path.length);
      return copy;
    });
    elements.splice(parentIndex + 1, 0, ...children);
  };

  const locate = (id: string): number => {
    let index = indexOf(id);
    if (index >= 0) return index;
    const lastDot = id.lastIndexOf('.');
    const lastColon = id.lastIndexOf(':');
    if (lastColon > lastDot) {
      // A new slice of an existing (sliced) element.
      const slicedId = id.slice(0, lastColon);
      const slicedIndex = locate(slicedId);
      const sliced = elements[slicedIndex];
      const slice = clone(sliced);
      delete slice.slicing;
      slice.id = id;
      slice.sliceName = id.slice(lastColon + 1);
      // Children of the sliced element are not copied: they are expanded again from the type on demand.
      const insertAt = endOfSubtree(slicedIndex);
      elements.splice(insertAt, 0, slice);
      return insertAt;
    }
    const parentIndex = locate(id.slice(0, lastDot));
    if (!elements[parentIndex + 1]?.id?.startsWith(elements[parentIndex].id + '.')) expandChildren(parentIndex);
    index = indexOf(id);
    if (index < 0) throw new SnapshotError(`${profile.url}: differential element ${id} matches nothing in the base`);
    return index;
  };

  for (const diff of profile.differential?.element ?? []) {
    const id = diff.id ?? diff.path;
    if (stripSlices(id) !== diff.path) throw new SnapshotError(`${profile.url}: element id ${id} does not match its path ${diff.path}`);
    const target = elements[locate(id)];
    for (const [key, value] of Object.entries(diff)) {
      if (key === 'id' || key === 'path') continue;
      if (key === 'constraint') {
        target.constraint = [...(target.constraint ?? []), ...(value as NonNullable<ElementDefinition['constraint']>).map((c) => ({ ...c, source: c.source ?? profile.url }))];
      } else {
        (target as unknown as Record<string, unknown>)[key] = clone(value);
      }
    }
  }
  // The root describes the profile, not the base type.
  elements[0].id = elements[0].id ?? profile.type;
  return elements;
}
