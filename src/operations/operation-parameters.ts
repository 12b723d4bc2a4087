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
  return body?.resourceType === 'Parameters' ? (body.parameter ?? []) : [];
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
