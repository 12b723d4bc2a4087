/**
 * Reads the input of an operation the way the R4 operations page allows: a
 * Parameters body (POST), or simple parameters in the query string (GET, or
 * URL parameters of a POST).
 */
import type { Parameters, ParametersParameter } from 'fhir/r4';
import { errors } from '../errors.js';
import type { OperationRequest } from './operation-registry.js';

export function bodyParameters(request: OperationRequest): ParametersParameter[] {
  const body = request.body as Parameters | undefined;
  if (body?.resourceType !== 'Parameters') return [];
  checkParameters(body.parameter, 'Parameters.parameter');
  return body.parameter ?? [];
}

/** value[x] of primitive types, by the JSON type FHIR gives them (R4 JSON format page); every other value[x] is an object. */
const PRIMITIVE_VALUES: Readonly<Record<string, 'string' | 'number' | 'boolean'>> = {
  valueBase64Binary: 'string',
  valueBoolean: 'boolean',
  valueCanonical: 'string',
  valueCode: 'string',
  valueDate: 'string',
  valueDateTime: 'string',
  valueDecimal: 'number',
  valueId: 'string',
  valueInstant: 'string',
  valueInteger: 'number',
  valueMarkdown: 'string',
  valueOid: 'string',
  valuePositiveInt: 'number',
  valueString: 'string',
  valueTime: 'string',
  valueUnsignedInt: 'number',
  valueUri: 'string',
  valueUrl: 'string',
  valueUuid: 'string',
};

/**
 * The shape operations rely on: `parameter` (and `part`) an array of objects
 * with a string `name`, each value[x] of its JSON type, a `resource` an
 * object. A malformed one is a 400 naming the element, never a crash deeper
 * in the operation (issue 18: `parameter` not an array, `[null]`, `valueUri: {}`
 * answered 500). The content of a `resource` is left to the operation ($validate
 * reports on invalid resources rather than refusing them).
 */
function checkParameters(parameters: unknown, path: string): void {
  if (parameters === undefined) return;
  if (!Array.isArray(parameters)) throw errors.invalidParameter(path, `${path} must be an array of parameters`);
  parameters.forEach((parameter: unknown, i) => {
    const where = `${path}[${i}]`;
    if (typeof parameter !== 'object' || parameter === null || Array.isArray(parameter)) throw errors.invalidParameter(where, `${where} must be an object`);
    const p = parameter as Record<string, unknown>;
    if (typeof p.name !== 'string' || p.name.length === 0) throw errors.invalidParameter(`${where}.name`, `${where}.name must be a non-empty string`);
    for (const [key, value] of Object.entries(p)) {
      if (!key.startsWith('value')) continue;
      const primitive = PRIMITIVE_VALUES[key];
      const ok = primitive ? typeof value === primitive : typeof value === 'object' && value !== null && !Array.isArray(value);
      if (!ok) throw errors.invalidParameter(`${where}.${key}`, `${where}.${key} must be ${primitive ? `a JSON ${primitive}` : 'an object'}`);
    }
    if (p.resource !== undefined && (typeof p.resource !== 'object' || p.resource === null || Array.isArray(p.resource))) {
      throw errors.invalidParameter(`${where}.resource`, `${where}.resource must be a resource (an object)`);
    }
    checkParameters(p.part, `${where}.part`);
  });
}

export function numberParameter(request: OperationRequest, name: string, integer: boolean): number | undefined {
  const fromBody = bodyParameters(request).find((p) => p.name === name);
  const value = fromBody ? (fromBody.valueInteger ?? fromBody.valueDecimal ?? fromBody.valuePositiveInt ?? fromBody.valueUnsignedInt) : undefined;
  const raw = value !== undefined ? String(value) : request.query.find(([n]) => n === name)?.[1];
  if (raw === undefined) return undefined;
  const parsed = Number(raw);
  if (!Number.isFinite(parsed) || parsed <= 0 || (integer && !Number.isInteger(parsed))) {
    throw errors.invalidParameter(name, `${name} must be a positive ${integer ? 'integer' : 'number'}, got '${raw}'`);
  }
  return parsed;
}

export function booleanParameter(request: OperationRequest, name: string): boolean | undefined {
  const fromBody = bodyParameters(request).find((p) => p.name === name);
  if (fromBody?.valueBoolean !== undefined) return fromBody.valueBoolean;
  const raw = request.query.find(([n]) => n === name)?.[1];
  if (raw === undefined) return undefined;
  if (raw !== 'true' && raw !== 'false') throw errors.invalidParameter(name, `${name} must be true or false`);
  return raw === 'true';
}
