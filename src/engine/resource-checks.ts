/**
 * Checks every write makes before anything is stored: a known type, a valid id,
 * a body of the type the URL names, and a structurally valid resource.
 */
import type { Resource } from 'fhir/r4';
import { errors } from '../errors.js';
import type { IndexEntries } from '../store/resource-store.js';
import { isUsableId } from '../validation/structure-validator.js';
import type { EngineContext, EngineLimits } from './engine-context.js';
import { DEFINITIONAL_TYPES } from '../fhir/definitional-types.js';
import { reachesSize } from './json-size.js';

/** What the checks of a written body use: the same whether they run on the event loop or in a body worker (src/body-work). */
export type CheckContext = Pick<EngineContext, 'definitions' | 'validator' | 'profileValidation' | 'extractor' | 'limits'>;

export function assertKnownType(ctx: Pick<EngineContext, 'definitions'>, resourceType: string): void {
  if (!ctx.definitions.isResourceType(resourceType)) throw errors.unknownResourceType(resourceType);
}

export function assertValidId(id: string): void {
  // R4's id regex, without "." and ".." (path segments a normalising client cannot address).
  if (!isUsableId(id)) throw errors.invalidId(id);
}

/** Returns the body as a Resource once it is an object of the right type and structurally valid. */
export function checkBody(ctx: CheckContext, resourceType: string, body: unknown): Resource {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw errors.badRequest('The body must be a JSON object holding a FHIR resource');
  }
  const claimed = (body as { resourceType?: unknown }).resourceType;
  if (claimed !== resourceType) throw errors.wrongResourceType(resourceType, claimed);
  assertBoundedArrays(ctx.limits, body);
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

/**
 * No array of a written resource holds more than LIMIT_ARRAY_ELEMENTS
 * elements (LIMIT_DEFINITION_ARRAY_ELEMENTS for definitions: terminologies,
 * profiles, questionnaires): one Patient with 120,000 given names made every
 * name search 15 times slower for everyone, for good (issue 18). Checked
 * before validation, which would otherwise spend seconds walking all of it.
 */
export function assertBoundedArrays(limits: Pick<EngineLimits, 'maxArrayElements' | 'maxDefinitionArrayElements'>, body: object): void {
  const type = (body as { resourceType?: string }).resourceType ?? '';
  // Definitions (a CodeSystem of thousands of codes) get the larger bound; checked before the costly validation.
  const max = DEFINITIONAL_TYPES.has(type) ? limits.maxDefinitionArrayElements : limits.maxArrayElements;
  if (max === undefined) return;
  const stack: Array<{ value: unknown; path: string }> = [{ value: body, path: (body as { resourceType?: string }).resourceType ?? 'Resource' }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (Array.isArray(value)) {
      if (value.length > max) throw errors.overLimit(`${path} holds ${value.length} elements; at most ${max} are accepted (LIMIT_ARRAY_ELEMENTS)`, [path]);
      for (let i = 0; i < value.length; i++) if (typeof value[i] === 'object' && value[i] !== null) stack.push({ value: value[i], path: `${path}[${i}]` });
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, child] of Object.entries(value)) if (typeof child === 'object' && child !== null) stack.push({ value: child, path: `${path}.${key}` });
    }
  }
}

/**
 * The index entries of a resource about to be written, each search parameter
 * taking at most LIMIT_INDEX_VALUES values: every value is a key every search
 * on that parameter may have to look at. In all they hold at most
 * LIMIT_INDEX_BYTES of text: each string is indexed as written and normalised,
 * under every parameter that reads it, and the store encodes the entries twice
 * on the event loop — a Patient with 999 names of 9,000 letters (9 MB) took
 * 36 MB of entries, whose encoding alone held the event loop a quarter of a
 * second (issue 18). A single string of R4's largest (1 MB) stays well within.
 */
export function boundedIndex(ctx: CheckContext, resource: Resource): IndexEntries {
  const index = ctx.extractor.extract(resource);
  const max = ctx.limits.maxIndexValues;
  if (max !== undefined) {
    for (const [code, values] of Object.entries(index)) {
      if (values.length > max) throw errors.overLimit(`${resource.resourceType} takes ${values.length} values for the search parameter '${code}'; at most ${max} are accepted (LIMIT_INDEX_VALUES)`);
    }
  }
  const maxBytes = ctx.limits.maxIndexBytes;
  if (maxBytes !== undefined && reachesSize(index, maxBytes + 1)) {
    throw errors.overLimit(`${resource.resourceType} would take more than ${maxBytes} bytes of search index entries (LIMIT_INDEX_BYTES); its searchable text (names, addresses, identifiers, codes) is too large`);
  }
  return index;
}

/** An update names its resource's id, which the body must carry (R4 http "update"). */
export function assertUpdateId(checked: Resource, id: string): void {
  if (checked.id === undefined) throw errors.idRequiredForUpdate();
  if (checked.id !== id) throw errors.idMismatch(id, checked.id);
}

/**
 * Every check a create or an update of `body` as resourceType/id makes, in the
 * order the interactions make them, and the index of what would be stored:
 * what a body worker computes for a big body (src/body-work), so that it
 * answers exactly what the event loop would have.
 */
export function checkedWrite(ctx: CheckContext, mode: 'create' | 'update', resourceType: string, id: string, body: unknown): { resource: Resource; index: IndexEntries } {
  assertKnownType(ctx, resourceType);
  if (mode === 'update') assertValidId(id);
  const checked = checkBody(ctx, resourceType, body);
  if (mode === 'update') assertUpdateId(checked, id);
  const resource = withClientMeta(checked, id);
  return { resource, index: boundedIndex(ctx, resource) };
}
