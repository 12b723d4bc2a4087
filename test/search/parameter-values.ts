/**
 * Generates, from a SearchParameter's FHIRPath expression and the R4 element
 * definitions, a resource that carries a value for that parameter, and the
 * search that must find it again from its index entry. Used by
 * declared-parameters.test.ts to exercise every parameter the
 * CapabilityStatement declares without hand-writing 2,500 fixtures.
 *
 * The expressions of R4's SearchParameters are paths (`Patient.name.family`)
 * with a few decorations, each understood here: a type cast (`as X`, `.as(X)`,
 * `.ofType(X)`), a `where(field='value')` filter, an extension filter
 * (`extension('url')`, `where(extension('url').value = true)`,
 * `where(extension('url').exists())`, `where(hasExtension('url'))`), an index
 * (`entry[0]`) and `exists()`.
 * A union's branches are tried in turn until one yields index entries.
 */
import type { FhirDefinitions } from '../../src/fhir/definitions.js';
import type { SearchParameter } from '../../src/search/search-parameters.js';

type Json = Record<string, unknown>;

interface Step {
  name: string;
  cast?: string;
  where?: Json;
  extension?: string;
  index?: number;
}

/** Splits `A.b.where(x='y').c` on the dots outside parentheses and quotes. */
function splitSteps(path: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < path.length; i++) {
    const ch = path[i];
    if (ch === "'") quoted = !quoted;
    if (quoted) continue;
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === '.' && depth === 0) {
      parts.push(path.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(path.slice(start));
  return parts;
}

/** One union branch → its steps after the resource type, or undefined when it is not a path this generator knows. */
export function parseBranch(branch: string): { steps: Step[]; exists?: boolean } | undefined {
  let text = branch.trim();
  let finalCast: string | undefined;
  const wrapped = /^\((.+) as ([A-Za-z]+)\)(\..+)?$/.exec(text);
  if (wrapped && !wrapped[3]) {
    text = wrapped[1];
    finalCast = wrapped[2];
  } else if (wrapped) {
    text = `${wrapped[1]}.as(${wrapped[2]})${wrapped[3]}`;
  }
  let exists = false;
  const existsMatch = /^(.+)\.exists\(\) and .+$/.exec(text);
  if (existsMatch) {
    text = existsMatch[1];
    exists = true;
  }
  const parts = splitSteps(text);
  parts.shift(); // the resource type (or Resource / DomainResource)
  const steps: Step[] = [];
  for (const part of parts) {
    const cast = /^(?:as|ofType)\(([A-Za-z]+)\)$/.exec(part);
    if (cast) {
      if (!steps.length) return undefined;
      steps[steps.length - 1].cast = cast[1];
      continue;
    }
    const where = /^where\(([a-z][A-Za-z]*)\s*=\s*'([^']*)'\)$/.exec(part);
    if (where) {
      if (!steps.length) return undefined;
      steps[steps.length - 1].where = { ...steps[steps.length - 1].where, [where[1]]: where[2] };
      continue;
    }
    const whereExtension = /^where\((?:extension\('([^']+)'\)\.(?:value\s*=\s*true|exists\(\))|hasExtension\('([^']+)'\))\)$/.exec(part);
    if (whereExtension) {
      if (!steps.length) return undefined;
      const extension = { url: whereExtension[1] ?? whereExtension[2], valueBoolean: true };
      steps[steps.length - 1].where = { ...steps[steps.length - 1].where, extension: [extension] };
      continue;
    }
    const extension = /^extension\('([^']+)'\)$/.exec(part);
    if (extension) {
      steps.push({ name: 'extension', extension: extension[1] });
      continue;
    }
    const indexed = /^([a-z][A-Za-z]*)\[(\d+)\]$/.exec(part);
    if (indexed) {
      steps.push({ name: indexed[1], index: Number(indexed[2]) });
      continue;
    }
    if (!/^[a-z][A-Za-z]*$/.test(part)) return undefined;
    steps.push({ name: part });
  }
  if (finalCast && steps.length) steps[steps.length - 1].cast = finalCast;
  return steps.length ? { steps, exists } : undefined;
}

/** Leaf datatypes each parameter type can index, best first. */
const PREFERRED: Record<string, string[]> = {
  token: ['CodeableConcept', 'Coding', 'Identifier', 'ContactPoint', 'code', 'boolean', 'string', 'uri', 'canonical', 'id'],
  string: ['HumanName', 'Address', 'string', 'markdown', 'CodeableConcept'],
  reference: ['Reference', 'canonical', 'uri'],
  date: ['dateTime', 'date', 'Period', 'instant', 'Timing'],
  number: ['decimal', 'integer', 'positiveInt', 'unsignedInt'],
  quantity: ['Quantity', 'Age', 'Duration', 'Money', 'SimpleQuantity', 'Distance', 'Count'],
  uri: ['uri', 'url', 'canonical', 'oid', 'uuid'],
};

const UCUM = 'http://unitsofmeasure.org';

/** A value of a leaf datatype that the parameter type indexes. */
function leafValue(type: string, parameter: SearchParameter, unique: string): unknown {
  const target = parameter.targets?.find((t) => t !== 'Resource') ?? 'Patient';
  switch (type) {
    case 'CodeableConcept':
      return { coding: [{ system: 'http://relais.test/cs', code: unique }], text: `concept ${unique}` };
    case 'Coding':
      return { system: 'http://relais.test/cs', code: unique };
    case 'Identifier':
      return { system: 'http://relais.test/id', value: unique };
    case 'ContactPoint':
      return { system: 'email', value: `${unique}@relais.test` };
    case 'code':
    case 'id':
    case 'string':
    case 'markdown':
      return parameter.code === 'phonetic' ? 'Dupont' : unique;
    case 'boolean':
      return true;
    case 'uri':
    case 'url':
    case 'canonical':
      return parameter.type === 'reference' ? `http://relais.test/fhir/${target === 'Resource' ? 'Patient' : target}/${unique}` : `http://relais.test/${unique}`;
    case 'oid':
      return 'urn:oid:1.2.250.1.999';
    case 'uuid':
      return 'urn:uuid:6f1c1a44-2c56-4f1c-9a77-0a1b2c3d4e5f';
    case 'Reference':
      return { reference: `${target}/${unique}` };
    case 'HumanName':
      return { family: 'Dupont', given: ['Hélène'] };
    case 'Address':
      return { line: ['3 rue des Lilas'], city: 'Saint-Étienne', postalCode: '42000', country: 'FR' };
    case 'dateTime':
    case 'instant':
      return '2024-03-05T10:00:00Z';
    case 'date':
      return '2024-03-05';
    case 'Period':
      return { start: '2024-03-01', end: '2024-03-10' };
    case 'Timing':
      return { event: ['2024-04-01'] };
    case 'decimal':
      return 7.5;
    case 'integer':
    case 'positiveInt':
    case 'unsignedInt':
      return 7;
    case 'Money':
      return { value: 12.5, currency: 'EUR' };
    case 'Quantity':
    case 'Age':
    case 'Duration':
    case 'SimpleQuantity':
    case 'Distance':
    case 'Count':
      return { value: 70, unit: 'kg', system: UCUM, code: 'kg' };
    default:
      return undefined;
  }
}

/** Builds `{ resourceType, ...value at the path }` for one branch, or undefined. */
function build(definitions: FhirDefinitions, resourceType: string, parsed: { steps: Step[]; exists?: boolean }, parameter: SearchParameter, unique: string): Json | undefined {
  const resource: Json = { resourceType };
  let holder: Json = resource;
  let defPath = resourceType;
  for (let i = 0; i < parsed.steps.length; i++) {
    const step = parsed.steps[i];
    const last = i === parsed.steps.length - 1;
    if (step.extension) {
      const extension: Json = { url: step.extension };
      const rest = parsed.steps.slice(i + 1);
      const leafTypes = PREFERRED[parameter.type] ?? [];
      const valueType = rest.length === 1 && rest[0].name === 'value' ? (rest[0].cast ?? leafTypes[0]) : leafTypes[0];
      if (rest.length > 1 || (rest.length === 1 && rest[0].name !== 'value')) return undefined;
      const value = leafValue(valueType, parameter, unique);
      if (value === undefined) return undefined;
      extension[`value${valueType[0].toUpperCase()}${valueType.slice(1)}`] = value;
      holder.extension = [...((holder.extension as unknown[]) ?? []), extension];
      return resource;
    }
    const children = definitions.childrenOf(defPath);
    const element = children.get(step.name) ?? children.get(`${step.name}[x]`);
    if (!element) return undefined;
    const choice = children.has(`${step.name}[x]`);
    const repeats = element.max !== '1';
    let type = step.cast ?? (element.ref ? 'BackboneElement' : element.types?.[0]);
    if (choice && !step.cast) type = (PREFERRED[parameter.type] ?? []).find((t) => element.types?.includes(t)) ?? element.types?.[0];
    if (!type) return undefined;
    if (choice && !element.types?.includes(type)) return undefined;
    const key = choice ? `${step.name}${type[0].toUpperCase()}${type.slice(1)}` : step.name;
    if (last) {
      let value: unknown;
      if (parsed.exists && type === 'boolean') value = true;
      else if (step.name === 'resource' && type === 'Resource') value = { resourceType: parameter.targets?.[0] ?? 'Composition', id: unique };
      else value = leafValue(type, parameter, unique);
      if (value === undefined) return undefined;
      if (step.where && typeof value === 'object') Object.assign(value as Json, step.where);
      holder[key] = repeats ? [value] : value;
      return resource;
    }
    const next: Json = { ...(step.where ?? {}) };
    if (step.index !== undefined && step.index > 0) return undefined;
    holder[key] = repeats ? [next] : next;
    holder = next;
    defPath = element.ref ?? (type === 'BackboneElement' || type === 'Element' ? element.path : type);
  }
  return undefined;
}

/** Splits a union on top-level `|`. */
export function branches(expression: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const ch = expression[i];
    if (ch === "'") quoted = !quoted;
    if (quoted) continue;
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === '|' && depth === 0) {
      parts.push(expression.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(expression.slice(start));
  return parts.map((p) => p.trim());
}

/** Every resource the branches of `expression` describe (one per buildable branch). */
export function candidateResources(definitions: FhirDefinitions, resourceType: string, expression: string, parameter: SearchParameter, unique: string): Json[] {
  const out: Json[] = [];
  for (const branch of branches(expression)) {
    const parsed = parseBranch(branch);
    if (!parsed) continue;
    const resource = build(definitions, resourceType, parsed, parameter, unique);
    if (resource) out.push(resource);
  }
  return out;
}

/** FHIR search escaping of a value (R4 search page: `\`, `,`, `$`, `|`). */
function escape(value: string): string {
  return value.replace(/[\\,$|]/g, (c) => `\\${c}`);
}

/** The criteria that must find a resource again from one of its index entries of `code`. */
export function criteriaFor(parameter: SearchParameter, code: string, entry: Json): Array<[string, string]> | undefined {
  const s = entry.s as string | undefined;
  const c = entry.c as string | undefined;
  switch (parameter.type) {
    case 'string':
      if (code === 'phonetic') return [[code, 'Dupond']]; // sounds like the generated family name Dupont
      if (typeof entry.x === 'string') return [[code, entry.x.split(' ')[0]]];
      return typeof entry.e === 'string' ? [[code, escape(entry.e)]] : undefined;
    case 'token':
      if (c !== undefined) return [[code, s !== undefined ? `${escape(s)}|${escape(c)}` : escape(c)]];
      if (typeof entry.t === 'string') return [[`${code}:text`, escape(entry.t)]];
      return undefined;
    case 'reference':
      if (typeof entry.r === 'string') return [[code, entry.r]];
      if (typeof entry.u === 'string') return [[code, entry.u]];
      if (c !== undefined) return [[`${code}:identifier`, s !== undefined ? `${escape(s)}|${escape(c)}` : escape(c)]];
      return undefined;
    case 'date':
      return typeof entry.lo === 'string' && typeof entry.hi === 'string' ? [[code, `ge${entry.lo}`], [code, `le${entry.hi}`]] : undefined;
    case 'number':
      return typeof entry.n === 'number' ? [[code, String(entry.n)]] : undefined;
    case 'quantity':
      if (typeof entry.n !== 'number') return undefined;
      return [[code, s !== undefined && c !== undefined ? `${entry.n}|${escape(s)}|${escape(c)}` : String(entry.n)]];
    case 'uri':
      return typeof entry.v === 'string' ? [[code, entry.v]] : undefined;
    default:
      return undefined;
  }
}
