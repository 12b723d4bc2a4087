/**
 * A direct evaluator for the SearchParameter expressions that are plain member
 * paths (`AuditEvent.agent.who`, `Patient.name | Person.name` once narrowed to
 * one type): most of R4's. fhirpath.js builds a node, a type lookup and a
 * context per step of every evaluation; profiling an audited read (issue 17,
 * scripts/bench-http.ts with BENCH_CPU_PROF) showed the index extraction of
 * each AuditEvent taking a fifth of the request, almost all of it there. A
 * member path needs none of it: the value of `a.b.c` is the flattened members,
 * and its type is the element's type in the same R4 model fhirpath.js reads
 * (so the nodes handed to the normalisation are the ones fhirpath.js gives).
 *
 * Anything else — functions, `where`, `as`, `ofType`, choice elements
 * (`value[x]`), resources inside resources, decimals (which fhirpath.js wraps
 * to keep their precision) — is not simple: the caller keeps fhirpath.js for
 * it. test/unit/simple-path.test.ts checks both give the same index entries on
 * every official R4 example.
 */
import r4model from 'fhirpath/fhir-context/r4/index.js';

interface R4Model {
  path2Type: Record<string, string>;
  choiceTypePaths: Record<string, unknown>;
  pathsDefinedElsewhere: Record<string, string>;
}

const model = r4model as unknown as R4Model;

/** A value and its FHIR type, the shape fhirpath.js's nodes have for the normalisation. */
export interface TypedNode {
  data: unknown;
  fhirNodeDataType: string;
}

const MEMBER_PATH = /^\s*\(?\s*([A-Z][A-Za-z]+)((?:\.[a-z][A-Za-z0-9]*)+)\s*\)?\s*$/;
/** Leaf types the normalisation reads differently from fhirpath.js's nodes, and resources held inline. */
const NOT_SIMPLE_TYPES = new Set(['decimal', 'Resource', 'Element', 'BackboneElement']);

/** The element path in the model once references to other definitions are followed (Questionnaire.item.item → Questionnaire.item). */
function canonicalPath(path: string): string {
  return model.pathsDefinedElsewhere[path] ?? path;
}

/**
 * Compiles `expression` (already narrowed to `resourceType`'s branches) into a direct
 * evaluator, or undefined when it is not a union of member paths of that type.
 */
export function compileSimplePath(resourceType: string, expression: string): ((resource: unknown) => TypedNode[]) | undefined {
  const branches: Array<{ steps: string[]; type: string }> = [];
  for (const branch of expression.split('|')) {
    const match = MEMBER_PATH.exec(branch);
    if (!match) return undefined;
    const [, root, members] = match;
    if (root !== resourceType && root !== 'Resource' && root !== 'DomainResource') return undefined;
    const steps = members.slice(1).split('.');
    let path = root;
    let type: string | undefined;
    for (const step of steps) {
      // A member of a primitive (its id or extensions) lives under `_name` in JSON, where fhirpath.js looks for it.
      if (type !== undefined && isPrimitive(type)) return undefined;
      path = canonicalPath(`${path}.${step}`);
      if (model.choiceTypePaths[path]) return undefined;
      type = model.path2Type[path];
      if (!type) return undefined;
      if (type === 'BackboneElement' || type === 'Element') continue; // a nested element: its members are under its own path
      path = type; // a datatype: its members are defined on the type (Reference.identifier)
    }
    if (!type || NOT_SIMPLE_TYPES.has(type)) return undefined;
    if (isResourceType(type)) return undefined;
    branches.push({ steps, type });
  }
  return (resource) => {
    const nodes: TypedNode[] = [];
    for (const { steps, type } of branches) {
      let values: unknown[] = [resource];
      for (const step of steps) {
        const next: unknown[] = [];
        for (const value of values) {
          if (value === null || typeof value !== 'object') continue;
          const member = (value as Record<string, unknown>)[step];
          if (Array.isArray(member)) {
            for (const item of member) if (item !== null && item !== undefined) next.push(item);
          } else if (member !== null && member !== undefined) next.push(member);
        }
        values = next;
        if (values.length === 0) break;
      }
      for (const data of values) nodes.push({ data, fhirNodeDataType: type });
    }
    return nodes;
  };
}

function isPrimitive(type: string): boolean {
  return /^[a-z]/.test(type) || type.startsWith('System.');
}

/** Whether a model type names a resource (Bundle.entry.resource is Resource; Parameters.parameter.resource too). */
function isResourceType(type: string): boolean {
  return model.path2Type[`${type}.id`] !== undefined && model.path2Type[`${type}.meta`] !== undefined && model.path2Type[`${type}.implicitRules`] !== undefined;
}
