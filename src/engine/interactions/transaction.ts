/**
 * transaction (R4 http page, "batch/transaction" and "Transaction processing
 * rules"): all the entries succeed together or none does.
 *
 * 1. Identities, in the R4 order (DELETE, POST, PUT/PATCH): each entry's target
 *    is decided — a new server id for a create, the match of a conditional
 *    create/update/delete — and its fullUrl mapped to it.
 * 2. Conditional references (`Patient?identifier=...`) resolve to exactly one
 *    resource, among those stored and those this bundle creates.
 * 3. Every resource is rewritten (fullUrls → identities, conditional references
 *    → targets), then checked and indexed by the same code the single
 *    interactions use (createOperation, checkUpdateBody, applyPatchDocument...).
 * 4. Write extensions (e.g. the discharge coordination) add their writes.
 * 5. ONE store.write commits everything; its version and guard checks make a
 *    concurrent change abort the whole unit, which is then re-planned from the
 *    start (a conditional create that lost a race becomes a match).
 * 6. GET/HEAD entries run after the commit, so they see its results.
 * Nothing is visible until step 5, and nothing at all if any step fails.
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Resource } from 'fhir/r4';
import { errors, FhirError } from '../../errors.js';
import { GuardConflict, VersionConflict, type StoredVersion, type WriteOperation } from '../../store/resource-store.js';
import { pendingMatches } from '../bundle/bundle-matching.js';
import { parseEntries, PROCESSING_RANK, withBundleBounds, type EntryRequest } from '../bundle/entry-request.js';
import { deleteEntry, errorEntry, locateError, versionEntry, type ReturnPreference } from '../bundle/entry-response.js';
import { patchDocumentOf } from '../bundle/patch-entry.js';
import { readEntry } from '../bundle/read-entry.js';
import {
  CONDITIONAL_REFERENCE,
  conditionalReferencesIn,
  internalReferencesIn,
  rewriteQuery,
  rewriteReferences,
} from '../bundle/reference-rewriting.js';
import { matchCriteria, parseCriteria, revealedMatch } from '../conditional.js';
import type { EngineContext } from '../engine-context.js';
import { assertKnownType, assertValidId, withClientMeta } from '../resource-checks.js';
import { markServerWrite, type PreparedEntry } from '../transaction-extension.js';
import { describeIfMatch, parseIfMatch, versionRequiredBy, type IfMatch } from '../version-expectation.js';
import { cooperative } from '../cooperative.js';
import { createOperationOffThread } from '../write-operations.js';
import { applyPatchDocument } from './patch.js';
import { read } from './read.js';
import { checkUpdateBody, putOperation } from './update.js';

export interface BundleOptions {
  /** Prefer: return for the response entries (default representation). */
  prefer?: ReturnPreference;
}

/**
 * How many times a transaction is re-planned after losing a race to a
 * concurrent write. Ten, with randomised waits: six identical follow-up pushes
 * of one discharge at once (each a conditional update of the same stay, plus
 * the coordination's re-evaluation) lost a seventh round now and then under load.
 */
const MAX_ATTEMPTS = 10;

type PlanKind = 'create' | 'existing' | 'same-as' | 'update' | 'patch' | 'delete' | 'delete-nothing' | 'read';

interface Plan {
  entry: EntryRequest;
  kind: PlanKind;
  resourceType?: string;
  id?: string;
  guardKey?: string;
  takeOverGuardFrom?: { resourceType: string; id: string };
  /** The stored version a conditional create matched. */
  existing?: StoredVersion;
  /** A conditional create repeated within the bundle: the plan of its first occurrence. */
  sameAs?: Plan;
  /** If-Match of the entry, as a version number. */
  ifMatch?: IfMatch;
  /** Index of this plan's write in the unit of work. */
  opIndex?: number;
  /** The live version an update, patch or delete replaces (for write extensions). */
  previous?: Resource;
  status?: number;
}

type Identity = { resourceType: string; id: string };

export async function transaction(outer: EngineContext, body: unknown, options: BundleOptions = {}): Promise<Bundle<Resource>> {
  const ctx = withBundleBounds(outer, body);
  const entries = parseEntries(body, ctx.baseUrl, 'transaction');
  const takeOvers = new Map<string, Identity>();
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    try {
      return await attemptTransaction(ctx, body as Bundle, entries, options.prefer ?? 'representation', takeOvers);
    } catch (error) {
      if (error instanceof GuardConflict) {
        // Take the guard over only from a committed holder that no longer matches its
        // criteria (seen on the next attempt); a holder still being committed will
        // match once visible, so wait for it instead.
        const holder = await ctx.store.readCurrent(error.holder.resourceType, error.holder.id);
        if (holder && !holder.deleted) takeOvers.set(error.guardKey, error.holder);
        else await pause(attempt);
        continue;
      }
      if (error instanceof VersionConflict) {
        await pause(attempt);
        continue;
      }
      throw error;
    }
  }
  throw errors.concurrentUpdateConflict('Bundle', '(transaction)');
}

/** A randomised, growing wait, so racing writers do not collide again in step (at most ~1 s). */
function pause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(1000, 4 * 2 ** attempt)));
}

async function attemptTransaction(
  ctx: EngineContext,
  bundle: Bundle,
  requestEntries: EntryRequest[],
  prefer: ReturnPreference,
  takeOvers: Map<string, Identity>,
): Promise<Bundle<Resource>> {
  const slice = cooperative();
  // Each attempt works on its own copy: rewriting happens in place.
  const entries = requestEntries.map((e) => ({ ...e, ...(e.resource ? { resource: structuredClone(e.resource) } : {}) }));
  const plans: Plan[] = new Array(entries.length);
  const identities = new Map<string, string>();
  const byGuard = new Map<string, Plan>();
  const fullUrls = new Set(entries.map((e) => e.fullUrl).filter((u): u is string => !!u));
  const order = entries
    .map((e) => e.index)
    .sort((a, b) => PROCESSING_RANK[entries[a].method] - PROCESSING_RANK[entries[b].method] || a - b);

  // 1. Identities. An entry whose criteria name another entry's fullUrl waits for it.
  let pending = order.filter((i) => entries[i].method !== 'GET' && entries[i].method !== 'HEAD');
  while (pending.length > 0) {
    const deferred: number[] = [];
    for (const i of pending) {
      await slice();
      const entry = entries[i];
      const raw = entry.method === 'POST' ? entry.ifNoneExist : entry.query;
      let criteria: string | undefined;
      if (raw !== undefined) {
        const { query, unresolved } = rewriteQuery(raw, identities);
        if (unresolved.some((u) => fullUrls.has(u))) {
          deferred.push(i);
          continue;
        }
        if (unresolved.length > 0) throw locateError(errors.unresolvedInternalReference(unresolved[0], i), i, entry.method, entry.url);
        criteria = query;
      }
      const plan = await located(entry, () => planIdentity(ctx, entry, criteria, byGuard, takeOvers));
      plans[i] = plan;
      const target = plan.sameAs ?? plan;
      if (entry.fullUrl && target.resourceType && target.id) identities.set(entry.fullUrl, `${target.resourceType}/${target.id}`);
    }
    if (deferred.length === pending.length) {
      throw errors.invalidBundle('The conditional URLs of some entries name each other in a cycle', deferred.map((i) => `Bundle.entry[${i}].request`));
    }
    pending = deferred;
  }
  for (const i of order) if (!plans[i]) plans[i] = { entry: entries[i], kind: 'read' };
  checkNoOverlap(plans);

  // 2. Conditional references, against the store and the resources this bundle writes.
  const bodies = plans.filter((p) => (p.kind === 'create' || p.kind === 'update') && p.entry.resource);
  for (const plan of bodies) {
    const resource = plan.entry.resource!;
    rewriteReferences(resource, identities);
    // A create's body id is ignored (the server assigns one); a conditional update may omit it.
    if (plan.kind === 'create' || resource.id === undefined) resource.id = plan.id!;
  }
  const resolved = new Map<string, string>();
  for (const plan of bodies) {
    await slice();
    for (const reference of conditionalReferencesIn(plan.entry.resource)) {
      if (resolved.has(reference)) continue;
      resolved.set(reference, await located(plan.entry, () => resolveConditionalReference(ctx, reference, identities, plans)));
    }
  }

  // 3. Rewrite, check and index every write.
  const operations: WriteOperation[] = [];
  for (const i of order) {
    await slice();
    const plan = plans[i];
    const op = await located(plan.entry, () => prepareWrite(ctx, plan, identities, resolved));
    if (op) {
      plan.opIndex = operations.length;
      operations.push(op);
    }
  }

  // 4. Extensions add their writes to the same unit.
  const prepared = preparedEntries(plans, operations);
  for (const extension of ctx.writeExtensions ?? []) {
    if (extension.types && !prepared.some((e) => extension.types!.has(e.resourceType))) continue;
    // Their writes are the server's, not the caller's (checked and audited as such by the access layer).
    if (!ctx.serverSession) throw new Error('write extensions need the engine (FhirEngine) to run');
    const server = ctx.serverSession(`write extension ${extension.name}`);
    operations.push(...(await extension.beforeCommit({ ctx, server, bundle, entries: prepared, operations })).map(markServerWrite));
  }

  // 5. One atomic write.
  let versions: StoredVersion[] = [];
  if (operations.length > 0) {
    if (operations.length > 1 && !ctx.store.capabilities.atomicMultiWrite) throw errors.transactionNeedsAtomicStore(ctx.store.capabilities.name);
    try {
      versions = await ctx.store.write(operations);
    } catch (error) {
      if (error instanceof VersionConflict) {
        const plan = plans.find((p) => p.ifMatch !== undefined && p.resourceType === error.resourceType && p.id === error.id);
        if (plan) {
          throw locateError(
            errors.versionConflict(error.resourceType, error.id, describeIfMatch(plan.ifMatch!), error.actual === undefined ? undefined : String(error.actual)),
            plan.entry.index,
            plan.entry.method,
            plan.entry.url,
          );
        }
      }
      throw error;
    }
  }

  // 6. Responses, in request order; reads run now, after the commit.
  const responses: BundleEntry<Resource>[] = [];
  for (const plan of plans) {
    await slice();
    responses.push(await respond(ctx, plan, versions, prefer));
  }
  return { resourceType: 'Bundle', type: 'transaction-response', entry: responses };
}

/** Runs one entry's step, prefixing any failure with the entry it belongs to. */
async function located<T>(entry: EntryRequest, step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof FhirError) throw locateError(error, entry.index, entry.method, entry.url);
    throw error;
  }
}

async function planIdentity(
  ctx: EngineContext,
  entry: EntryRequest,
  criteria: string | undefined,
  byGuard: Map<string, Plan>,
  takeOvers: Map<string, Identity>,
): Promise<Plan> {
  const resourceType = entry.resourceType;
  if (!resourceType) throw errors.invalidBundle(`${entry.method} needs a resource type in the URL`, [`Bundle.entry[${entry.index}].request.url`]);
  assertKnownType(ctx, resourceType);
  const ifMatch = parseIfMatch(entry.ifMatch);
  const base: Plan = { entry, kind: 'read', resourceType, ...(ifMatch !== undefined ? { ifMatch } : {}) };

  switch (entry.method) {
    case 'POST': {
      if (entry.id || entry.history) throw errors.invalidBundle(`POST goes to [type], not '${entry.url}'`, [`Bundle.entry[${entry.index}].request.url`]);
      if (criteria === undefined) return { ...base, kind: 'create', id: randomUUID() };
      const { matches, guardKey } = await matchCriteria(ctx, resourceType, parseCriteria(criteria), 'create');
      const earlier = byGuard.get(guardKey);
      if (earlier) return { ...base, kind: 'same-as', sameAs: earlier };
      if (matches.length > 1) throw errors.multipleMatches('create', matches.length);
      const plan: Plan =
        matches.length === 1
          ? { ...base, kind: 'existing', id: matches[0].id, existing: matches[0] }
          : { ...base, kind: 'create', id: randomUUID(), guardKey, ...(takeOvers.has(guardKey) ? { takeOverGuardFrom: takeOvers.get(guardKey) } : {}) };
      byGuard.set(guardKey, plan);
      return plan;
    }
    case 'PUT': {
      if (entry.id) return { ...base, kind: 'update', id: entry.id };
      if (criteria === undefined) throw errors.conditionalNeedsCriteria('update');
      const { matches, guardKey } = await matchCriteria(ctx, resourceType, parseCriteria(criteria), 'update');
      if (matches.length > 1) throw errors.multipleMatches('update', matches.length);
      const bodyId = entry.resource?.id;
      if (matches.length === 1) {
        if (bodyId !== undefined && bodyId !== matches[0].id) throw errors.idMismatch(matches[0].id, bodyId);
        return { ...base, kind: 'update', id: matches[0].id };
      }
      if (bodyId !== undefined) assertValidId(bodyId);
      const plan: Plan = { ...base, kind: 'update', id: bodyId ?? randomUUID(), guardKey };
      byGuard.set(guardKey, plan);
      return plan;
    }
    case 'PATCH': {
      if (entry.id) return { ...base, kind: 'patch', id: entry.id };
      if (criteria === undefined) throw errors.conditionalNeedsCriteria('patch');
      const { matches } = await matchCriteria(ctx, resourceType, parseCriteria(criteria), 'patch');
      if (matches.length === 0) throw errors.notFound(resourceType, `?${criteria}`);
      if (matches.length > 1) throw errors.multipleMatches('patch', matches.length);
      return { ...base, kind: 'patch', id: matches[0].id };
    }
    case 'DELETE': {
      let id = entry.id;
      if (!id) {
        if (criteria === undefined) throw errors.conditionalNeedsCriteria('delete');
        const { matches } = await matchCriteria(ctx, resourceType, parseCriteria(criteria), 'delete');
        if (matches.length > 1) throw errors.multipleMatches('delete', matches.length);
        if (matches.length === 0) return { ...base, kind: 'delete-nothing' };
        id = matches[0].id;
      }
      return { ...base, kind: 'delete', id };
    }
    default:
      return base;
  }
}

/** R4: "If any resource identities ... overlap in steps 1-3, then the transaction SHALL fail." */
function checkNoOverlap(plans: Plan[]): void {
  const seen = new Set<string>();
  for (const plan of plans) {
    if (!['create', 'update', 'patch', 'delete'].includes(plan.kind)) continue;
    const identity = `${plan.resourceType}/${plan.id}`;
    if (seen.has(identity)) throw locateError(errors.transactionIdentityOverlap(identity), plan.entry.index, plan.entry.method, plan.entry.url);
    seen.add(identity);
  }
}

async function resolveConditionalReference(ctx: EngineContext, reference: string, identities: Map<string, string>, plans: Plan[]): Promise<string> {
  const [, resourceType, rawQuery] = CONDITIONAL_REFERENCE.exec(reference)!;
  assertKnownType(ctx, resourceType);
  const { query, unresolved } = rewriteQuery(rawQuery, identities);
  if (unresolved.length > 0) throw errors.conditionalReferenceUnresolved(reference, 0);
  const found = new Set<string>();
  const { matches } = await matchCriteria(ctx, resourceType, parseCriteria(query), 'reference');
  const replaced = new Set(plans.filter((p) => p.kind === 'update' || p.kind === 'patch' || p.kind === 'delete').map((p) => `${p.resourceType}/${p.id}`));
  // A stored resource this bundle rewrites is judged on its new content below.
  for (const match of matches) if (!replaced.has(`${match.resourceType}/${match.id}`)) found.add(`${match.resourceType}/${match.id}`);
  const pending = plans.filter((p) => (p.kind === 'create' || p.kind === 'update') && p.entry.resource).map((p) => p.entry.resource!);
  for (const resource of await pendingMatches(ctx, resourceType, query, pending)) found.add(`${resource.resourceType}/${resource.id}`);
  if (found.size !== 1) throw errors.conditionalReferenceUnresolved(reference, found.size);
  return [...found][0];
}

async function prepareWrite(ctx: EngineContext, plan: Plan, identities: Map<string, string>, resolved: Map<string, string>): Promise<WriteOperation | undefined> {
  const resourceType = plan.resourceType!;
  const id = plan.id!;
  const resource = plan.entry.resource;
  if (resource && (plan.kind === 'create' || plan.kind === 'update')) {
    rewriteReferences(resource, identities, resolved);
    const dangling = internalReferencesIn(resource).find((u) => !identities.has(u));
    if (dangling) throw errors.unresolvedInternalReference(dangling, plan.entry.index);
  }
  switch (plan.kind) {
    case 'create': {
      plan.status = 201;
      // A big entry is checked and indexed by a body worker, as a single create is (write-operations.ts).
      const op = await createOperationOffThread(ctx, resourceType, resource, id, plan.guardKey);
      return plan.takeOverGuardFrom ? { ...op, takeOverGuardFrom: plan.takeOverGuardFrom } : op;
    }
    case 'update': {
      assertKnownType(ctx, resourceType);
      assertValidId(id);
      const offThread = await ctx.bigBodies?.check('update', resourceType, id, resource);
      const checked = offThread ? withClientMeta(resource as Resource, id) : checkUpdateBody(ctx, resourceType, id, resource);
      const current = await ctx.store.readCurrent(resourceType, id);
      const live = current && !current.deleted ? current : undefined;
      if (plan.ifMatch !== undefined) versionRequiredBy(plan.ifMatch, resourceType, id, live);
      plan.status = live ? 200 : 201;
      if (live?.resource) plan.previous = live.resource;
      return putOperation(ctx, checked, live?.versionId ?? 'absent', plan.guardKey, offThread?.index);
    }
    case 'patch': {
      const current = await read(ctx, resourceType, id);
      if (plan.ifMatch !== undefined) versionRequiredBy(plan.ifMatch, resourceType, id, current);
      plan.status = 200;
      if (current.resource) plan.previous = current.resource;
      return putOperation(ctx, applyPatchDocument(ctx, current, patchDocumentOf(resource)), current.versionId);
    }
    case 'delete': {
      const current = await ctx.store.readCurrent(resourceType, id);
      if (!current || current.deleted) {
        if (plan.ifMatch !== undefined) versionRequiredBy(plan.ifMatch, resourceType, id, current);
        plan.kind = 'delete-nothing';
        return undefined;
      }
      if (plan.ifMatch !== undefined) versionRequiredBy(plan.ifMatch, resourceType, id, current);
      if (current.resource) plan.previous = current.resource;
      return { kind: 'delete', resourceType, id, expect: current.versionId };
    }
    default:
      return undefined;
  }
}

function preparedEntries(plans: Plan[], operations: WriteOperation[]): PreparedEntry[] {
  const prepared: PreparedEntry[] = [];
  for (const plan of plans) {
    const base = { index: plan.entry.index, resourceType: plan.resourceType!, id: plan.id!, ...(plan.previous ? { previous: plan.previous } : {}) };
    if (plan.kind === 'existing') prepared.push({ ...base, outcome: 'existing', resource: plan.existing!.resource });
    else if (plan.kind === 'delete' && plan.opIndex !== undefined) prepared.push({ ...base, outcome: 'deleted' });
    else if (plan.opIndex !== undefined) {
      prepared.push({ ...base, outcome: plan.status === 201 ? 'created' : 'updated', resource: operations[plan.opIndex].resource });
    }
  }
  return prepared;
}

async function respond(ctx: EngineContext, plan: Plan, versions: StoredVersion[], prefer: ReturnPreference): Promise<BundleEntry<Resource>> {
  const target = plan.sameAs ?? plan;
  switch (plan.kind) {
    case 'read':
      try {
        return await readEntry(ctx, plan.entry);
      } catch (error) {
        // The writes are committed; a read that fails afterwards reports its own failure.
        if (error instanceof FhirError) return errorEntry(error);
        throw error;
      }
    case 'delete':
      return deleteEntry(versions[plan.opIndex!]);
    case 'delete-nothing':
      return deleteEntry(undefined);
    case 'existing':
      return versionEntry(ctx.baseUrl, 200, await revealedMatch(ctx, plan.existing!), prefer);
    case 'same-as': {
      const version = target.kind === 'existing' ? target.existing! : versions[target.opIndex!];
      return versionEntry(ctx.baseUrl, 200, target.kind === 'existing' ? await revealedMatch(ctx, version) : version, prefer);
    }
    default:
      return versionEntry(ctx.baseUrl, plan.status!, versions[plan.opIndex!], prefer);
  }
}
