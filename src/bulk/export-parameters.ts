/**
 * The kick-off parameters of $export (Bulk Data IG 2.0.0, "Query Parameters";
 * OperationDefinitions export, patient-export, group-export 2.0.0), read from
 * the query string of a GET or from the Parameters body of a POST, checked
 * before any job exists: anything malformed or unsupported is a 400 with an
 * OperationOutcome naming the parameter, and nothing is created.
 *
 * - `_outputFormat`: application/fhir+ndjson, or its aliases application/ndjson and ndjson.
 * - `_since`: a FHIR instant.
 * - `_type`, `_typeFilter`, `_elements`: comma-separated, and repeatable (the IG: repeated
 *   values count as if comma-separated in one parameter).
 * - `_typeFilter`: `Type?criteria`, URL-encoded; search result parameters are refused;
 *   the criteria themselves are compiled by the kick-off (export-kickoff.ts).
 * - `patient`: POST only (the IG), not at system level.
 * - `includeAssociatedData` and anything else: not supported; under
 *   `Prefer: handling=lenient` ignored, with a note in the job's error file (the IG's advice).
 */
import type { Parameters, ParametersParameter } from 'fhir/r4';
import { errors } from '../errors.js';
import { rangeOfDateString } from '../search/date-range.js';
import { CONTROL_PARAMETERS } from '../search/search-query.js';
import type { ExportLevel } from './export-job.js';

export const NDJSON = 'application/fhir+ndjson';
const OUTPUT_FORMATS = new Set([NDJSON, 'application/ndjson', 'ndjson']);
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const TYPE_NAME = /^[A-Z][A-Za-z]+$/;
const ELEMENT = /^(?:([A-Z][A-Za-z]+)\.)?([a-z][A-Za-z0-9]*(?:\[x\])?)$/;

export interface TypeFilter {
  type: string;
  /** The criteria as search parameters (compiled later, within the caller's view). */
  params: Array<[string, string]>;
}

export interface ExportParameters {
  since?: string;
  /** Types named by `_type`, in order, without repeats (undefined: not given). */
  types?: string[];
  typeFilters: TypeFilter[];
  /** POST `patient`: patient ids. */
  patients?: string[];
  /** `_elements`, per type ('*': every type). */
  elements?: Record<string, string[]>;
  /** Ignored under lenient handling, for the error file. */
  notices: string[];
}

export interface KickoffInput {
  level: ExportLevel;
  method: 'GET' | 'POST';
  query: Array<[string, string]>;
  body?: unknown;
  lenient: boolean;
  isResourceType: (type: string) => boolean;
}

/** Parameters of the request as name/value pairs; a POST body's Parameters are converted to their string forms. */
function pairsOf(input: KickoffInput): Array<[string, string]> {
  const pairs = input.query.filter(([name]) => name !== '_format' && name !== '_pretty');
  if (input.method !== 'POST' || input.body === undefined) return pairs;
  // The body is whatever JSON the client sent (null, an array...): checked before it is read, a 400 and never a crash.
  const isObject = typeof input.body === 'object' && input.body !== null && !Array.isArray(input.body);
  const body = (isObject ? input.body : {}) as Partial<Parameters>;
  if (body.resourceType !== 'Parameters') {
    const what = isObject ? describe(body.resourceType) : input.body === null ? 'null' : Array.isArray(input.body) ? 'a JSON array' : `a ${typeof input.body}`;
    throw errors.badRequest(`A POST kick-off carries a Parameters resource, not ${what}`, ['resourceType']);
  }
  if (body.parameter !== undefined && !Array.isArray(body.parameter)) throw errors.badRequest('Parameters.parameter must be an array', ['Parameters.parameter']);
  for (const [i, parameter] of (body.parameter ?? []).entries()) {
    if (typeof parameter !== 'object' || parameter === null || typeof parameter.name !== 'string') {
      throw errors.badRequest('Each parameter is an object with a name', [`Parameters.parameter[${i}]`]);
    }
    pairs.push([parameter.name, valueOf(parameter, i)]);
  }
  return pairs;
}

const describe = (value: unknown) => (typeof value === 'string' ? `'${value.slice(0, 64)}'` : value === undefined ? 'a body without one' : typeof value);

function valueOf(parameter: ParametersParameter, index: number): string {
  const where = [`Parameters.parameter[${index}]`];
  if (parameter.name === 'patient') {
    const reference = parameter.valueReference?.reference;
    if (!reference) throw errors.badRequest('patient must be given as valueReference with a reference such as Patient/123', where);
    return reference;
  }
  const value = parameter.valueString ?? parameter.valueInstant ?? parameter.valueDateTime ?? parameter.valueCode ?? parameter.valueUri;
  if (typeof value !== 'string') throw errors.badRequest(`Parameter '${parameter.name}' needs a value (valueString${parameter.name === '_since' ? ' or valueInstant' : ''})`, where);
  return value;
}

const commaList = (values: string[]) => values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);

export function parseKickoff(input: KickoffInput): ExportParameters {
  const pairs = pairsOf(input);
  const result: ExportParameters = { typeFilters: [], notices: [] };
  const values = (name: string) => pairs.filter(([n]) => n === name).map(([, v]) => v);
  const known = new Set(['_outputFormat', '_since', '_type', '_typeFilter', '_elements', 'patient']);

  const formats = values('_outputFormat');
  if (formats.length > 1) throw errors.invalidParameter('_outputFormat', '_outputFormat may be given once');
  if (formats.length === 1 && !OUTPUT_FORMATS.has(formats[0].trim().toLowerCase())) {
    throw errors.invalidParameter('_outputFormat', `_outputFormat '${formats[0]}' is not offered; this server writes ${NDJSON} (also accepted as application/ndjson or ndjson)`);
  }

  const since = values('_since');
  if (since.length > 1) throw errors.invalidParameter('_since', '_since may be given once');
  if (since.length === 1) {
    // A '+' offset left unescaped in a query string arrives as a space.
    const raw = since[0].trim().replace(/ (\d{2}:\d{2})$/, '+$1');
    const range = INSTANT.test(raw) ? rangeOfDateString(raw) : undefined;
    if (!range) throw errors.invalidParameter('_since', `_since must be a FHIR instant such as 2024-01-31T10:00:00Z or 2024-01-31T10:00:00+01:00, got '${since[0]}'`);
    result.since = range.lo;
  }

  const typeValues = values('_type');
  if (typeValues.length > 0) {
    const types = [...new Set(commaList(typeValues))];
    for (const type of types) {
      if (!TYPE_NAME.test(type) || !input.isResourceType(type)) throw errors.invalidParameter('_type', `_type names '${type}', which is not a FHIR R4 resource type`);
    }
    if (types.length === 0) throw errors.invalidParameter('_type', '_type is empty');
    result.types = types;
  }

  for (const query of commaList(values('_typeFilter'))) result.typeFilters.push(parseTypeFilter(query, input));

  const elements = commaList(values('_elements'));
  if (elements.length > 0) {
    const byType: Record<string, string[]> = {};
    for (const element of elements) {
      const match = ELEMENT.exec(element);
      if (!match || (match[1] && !input.isResourceType(match[1]))) {
        throw errors.invalidParameter('_elements', `_elements entries are [ResourceType.]element with a top-level element name, such as Patient.birthDate or id; got '${element}'`);
      }
      (byType[match[1] ?? '*'] ??= []).push(match[2]);
    }
    result.elements = byType;
  }

  const patients = values('patient');
  if (patients.length > 0) {
    if (input.level === 'system') throw errors.invalidParameter('patient', 'patient does not apply to a system-level export (use Patient/$export or Group/[id]/$export)');
    if (input.method !== 'POST') throw errors.invalidParameter('patient', 'patient is accepted in a POST kick-off only (a Parameters body with valueReference), as the Bulk Data IG defines it');
    result.patients = [...new Set(patients.map((reference) => patientId(reference)))];
  }

  for (const [name] of pairs) {
    if (known.has(name)) continue;
    const why = name === 'includeAssociatedData' ? 'includeAssociatedData is not supported (no associated data sets are defined here)' : `Parameter '${name}' is not supported by $export`;
    if (!input.lenient) throw errors.notSupportedParameter(name, `${why}; send Prefer: handling=lenient to have it ignored`);
    if (!result.notices.some((n) => n.startsWith(why))) result.notices.push(`${why}: ignored (Prefer: handling=lenient)`);
  }
  return result;
}

function patientId(reference: string): string {
  const match = /^(?:.*\/)?Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(reference.trim());
  if (!match) throw errors.invalidParameter('patient', `patient must reference a Patient (Patient/[id]); got '${reference}'`);
  return match[1];
}

function parseTypeFilter(query: string, input: KickoffInput): TypeFilter {
  const mark = query.indexOf('?');
  const type = mark > 0 ? query.slice(0, mark) : '';
  if (!TYPE_NAME.test(type) || !input.isResourceType(type)) {
    throw errors.invalidParameter('_typeFilter', `_typeFilter entries are [ResourceType]?[search criteria], URL-encoded; '${query}' names no resource type`);
  }
  const params = [...new URLSearchParams(query.slice(mark + 1)).entries()];
  if (params.length === 0) throw errors.invalidParameter('_typeFilter', `_typeFilter '${query}' has no search criteria`);
  for (const [name] of params) {
    if (CONTROL_PARAMETERS.has(name.split(':')[0]) || name === '_type' || name === '_since') {
      throw errors.invalidParameter('_typeFilter', `_typeFilter '${query}' uses '${name}': search result parameters (_sort, _include, _elements, _count...) may not be used in _typeFilter`);
    }
  }
  return { type, params };
}
