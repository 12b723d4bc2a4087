/**
 * Checks every write makes before anything is stored: a known type, a valid id,
 * a body of the type the URL names, and a structurally valid resource.
 */
import type { Resource } from 'fhir/r4';
import { errors } from '../errors.js';
import type { EngineContext } from './engine-context.js';

const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

export function assertKnownType(ctx: EngineContext, resourceType: string): void {
  if (!ctx.definitions.isResourceType(resourceType)) throw errors.unknownResourceType(resourceType);
}

export function assertValidId(id: string): void {
  if (!ID_PATTERN.test(id)) throw errors.invalidId(id);
}

/** Returns the body as a Resource once it is an object of the right type and structurally valid. */
export function checkBody(ctx: EngineContext, resourceType: string, body: unknown): Resource {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw errors.badRequest('The body must be a JSON object holding a FHIR resource');
  }
  const claimed = (body as { resourceType?: unknown }).resourceType;
  if (claimed !== resourceType) throw errors.wrongResourceType(resourceType, claimed);
  const issues = ctx.validator.validate(body);
  if (issues.length > 0) throw errors.invalidResource(issues);
  if (ctx.profileValidation) {
    const profileIssues = ctx.profileValidation.validate(body, { structureChecked: true });
    if (profileIssues.some((i) => i.severity === 'error' || i.severity === 'fatal')) throw errors.profileValidationFailed(profileIssues);
  }
  return body as Resource;
}

/** Strips what the server owns (versionId, lastUpdated) from meta, keeping profiles, tags, security. */
export function withClientMeta<T extends Resource>(resource: T, id: string): T {
  const { meta, ...rest } = resource;
  const copy = { ...rest, id } as T;
  if (meta) {
    const { versionId: _v, lastUpdated: _l, ...clientMeta } = meta;
    if (Object.keys(clientMeta).length > 0) copy.meta = clientMeta;
  }
  return copy;
}
