/**
 * Searches and histories of types or of the whole system: every store query
 * they make is restricted by the access filter (search-access.ts) — the
 * matches, counts, `_include` / `_revinclude`, the sub-queries of chains and
 * `_has`, and each version of a history judged on its own content — so what
 * the caller may not see is never counted, included or paged. One AuditEvent
 * per listing names the query and the patients whose data it returned.
 *
 * A system-level call naming no `_type` lists every type the caller may list
 * (a coordinator: everything but the audit trail; a platform: the shared types).
 */
import { createHash } from 'node:crypto';
import type { Bundle, Resource } from 'fhir/r4';
import type { ListingInteraction } from '../engine/access-guard.js';
import type { ClientCaller } from '../engine/caller.js';
import type { EngineContext } from '../engine/engine-context.js';
import { errors } from '../errors.js';
import type { ResourceStore, StoredVersion } from '../store/resource-store.js';
import { decideType } from './access-policy.js';
import { recordListing, recordRefusal } from './caller-audit.js';
import { gathererFor } from './fact-gatherer.js';
import type { GuardDeps } from './guard-deps.js';
import { COORDINATION_STATUS_TYPES, ownSubmissionRefs, patientsOf } from './resource-reach.js';
import { searchAccessFilter } from './search-access.js';
import { storeView } from './store-view.js';
import { allowType, typeRequest } from './type-gate.js';

/**
 * Whose paging snapshots these are: a cursor is unknown (410, as if expired)
 * to any other identity — another subject, or the same subject with another
 * role, scopes, launch patient or break-the-glass state — so a snapshot's size
 * cannot be learnt through someone else's link, nor through the caller's own
 * once its access has changed.
 */
export function snapshotOwner(caller: ClientCaller, accessFilter: Record<string, unknown> | undefined): string {
  const p = caller.principal;
  const scopes = p.scopes.resourceScopes.map((s) => s.raw).sort().join(' ');
  // The access filter the listing ran under, as of this request: when the caller's access changes (a
  // Consent withdrawn, a care team left), its cursors stop answering (410: search again), so no later
  // page — nor its total — shows what the caller may no longer see.
  const access = createHash('sha256').update(JSON.stringify(accessFilter ?? null)).digest('base64url');
  return [p.issuer, p.subject, p.kind, p.role, p.clientId ?? '', p.finess ?? '', p.rpps ?? '', p.launchPatient ?? '', scopes, caller.breakTheGlass ? 'btg' : '', access].join('|');
}

/** The types a listing covers, each allowed (403 otherwise); none named: every type the caller may list. */
async function listedTypes(deps: GuardDeps, caller: ClientCaller, interaction: ListingInteraction, named: readonly string[]): Promise<{ types: readonly string[]; all: boolean }> {
  if (named.length > 0) {
    for (const resourceType of named) await allowType(deps, caller, interaction, resourceType);
    return { types: named, all: false };
  }
  const open = deps.ctx.definitions.resourceTypes.filter((type) => decideType(typeRequest(deps, caller, interaction, type)).allowed);
  if (open.length === 0) {
    await recordRefusal(deps, caller, { interaction, patients: [], outcomeDetail: 'role' });
    throw errors.forbidden(`no resource type is open to the ${caller.principal.role} role for a system-wide ${interaction.startsWith('search') ? 'search' : 'history'}`);
  }
  return { types: open, all: true };
}

export async function guardListing<T = Bundle<Resource>>(
  deps: GuardDeps,
  caller: ClientCaller,
  interaction: ListingInteraction,
  named: readonly string[],
  query: string,
  run: (ctx: EngineContext) => Promise<T>,
): Promise<T> {
  const { types, all } = await listedTypes(deps, caller, interaction, named);
  const audited = all ? [] : types;
  if (interaction === 'history-type' || interaction === 'history-system') {
    // Every type of the definitions is asked about, so those the caller may not list match nothing.
    const { store, patients, reachable } = await historyVisibleTo(deps, caller, interaction, all ? deps.ctx.definitions.resourceTypes : types);
    const bundle = await run({ ...deps.ctx, store });
    await recordListing(deps, caller, interaction, audited, query, patients, reachable);
    return bundle;
  }
  const gatherer = gathererFor(deps, caller);
  const reachable = caller.principal.kind === 'practitioner' ? await gatherer.reachablePatients() : [];
  const requests = await gatherer.requestGrants();
  // Per store query, for the types it reads: the matches, and the sub-queries of chains, _has and includes.
  const filters = new Map<string, Record<string, unknown> | undefined>();
  // A hospital's Task and Flag queries also match the coordination status of what it sent: listed once per request, when first needed.
  let ownSubmissions: Promise<string[]> | undefined;
  const filterFor = async (queried: readonly string[]) => {
    const key = queried.join(',');
    if (!filters.has(key)) {
      const needsOwn = caller.principal.kind === 'system' && queried.some((t) => COORDINATION_STATUS_TYPES.includes(t));
      const own = needsOwn ? await (ownSubmissions ??= ownSubmissionRefs(deps, caller.principal)) : [];
      filters.set(key, searchAccessFilter(caller.principal, interaction, queried, reachable, caller.breakTheGlass, own, deps.settings.policy, requests));
    }
    return filters.get(key);
  };
  const patients = new Set<string>();
  const inner = deps.ctx.store;
  const restrict = async <Q extends { resourceTypes: string[]; filter: Record<string, unknown> }>(q: Q): Promise<Q> => {
    const filter = await filterFor(q.resourceTypes);
    return filter ? { ...q, filter: { $and: [q.filter, filter] } } : q;
  };
  const search: ResourceStore['search'] = async (q) => {
    const result = await inner.search(await restrict(q));
    if (!q.idsOnly) {
      for (const v of result.versions) if (v.resource) patientsOf(deps, v.resource).forEach((p) => patients.add(p));
    }
    return result;
  };
  const distinct: ResourceStore['distinct'] = async (q, path) => inner.distinct(await restrict(q), path);
  const listingFilter = await filterFor(all ? deps.ctx.definitions.resourceTypes : types);
  const owner = () => snapshotOwner(caller, listingFilter);
  // Bulk reads (export): restricted like a search, each version judged on its own entries (see ScanQuery).
  const scan: ResourceStore['scan'] = (q) => restrictedScan(inner, q, filterFor, (content) => patientsOf(deps, content).forEach((p) => patients.add(p)));
  const bundle = await run({ ...deps.ctx, store: storeView(inner, { search, distinct, scan }, owner) });
  await recordListing(deps, caller, interaction, audited, query, patients, reachable);
  return bundle;
}

/**
 * A scan restricted by the access filter of its type; the patients of what it
 * yields are noted for the audit (deletions: those of the content they deleted).
 */
async function* restrictedScan(
  inner: ResourceStore,
  query: Parameters<ResourceStore['scan']>[0],
  filterFor: (types: readonly string[]) => Promise<Record<string, unknown> | undefined>,
  note: (content: Resource) => void,
): AsyncIterable<StoredVersion> {
  const access = await filterFor([query.resourceType]);
  const restricted = access ? { ...query, filter: { $and: [query.filter, access] } } : query;
  for await (const version of inner.scan(restricted)) {
    const content = version.resource ?? (version.versionId > 1 ? (await inner.readVersion(version.resourceType, version.id, version.versionId - 1))?.resource : undefined);
    if (content) note(content);
    yield version;
  }
}

/**
 * The store a history runs on for this caller: its history filtered by the
 * search access filter, evaluated on each version's OWN index entries (a
 * deletion: those of the version it deleted; see HistoryQuery.filter), and
 * the patients of the versions it returned, collected for the audit.
 */
export async function historyVisibleTo(
  deps: GuardDeps,
  caller: ClientCaller,
  interaction: 'history-instance' | 'history-type' | 'history-system',
  resourceTypes: readonly string[],
): Promise<{ store: ResourceStore; patients: Set<string>; reachable: readonly string[] }> {
  const { ctx } = deps;
  const gatherer = gathererFor(deps, caller);
  const reachable = caller.principal.kind === 'practitioner' ? await gatherer.reachablePatients() : [];
  const requests = await gatherer.requestGrants();
  // A hospital's Task and Flag history shows the coordination status of its requests, as its searches do.
  const own = caller.principal.kind === 'system' && resourceTypes.some((t) => COORDINATION_STATUS_TYPES.includes(t)) ? await ownSubmissionRefs(deps, caller.principal) : [];
  const filter = searchAccessFilter(caller.principal, interaction, resourceTypes, reachable, caller.breakTheGlass, own, deps.settings.policy, requests);
  const inner = ctx.store;
  const patients = new Set<string>();
  const history: ResourceStore['history'] = async (q) => {
    const page = await inner.history(filter ? { ...q, filter: q.filter ? { $and: [q.filter, filter] } : filter } : q);
    for (const v of page.versions) {
      // A deletion told the caller about the content it deleted (the version before it).
      const content = v.resource ?? (v.versionId > 1 ? (await inner.readVersion(v.resourceType, v.id, v.versionId - 1))?.resource : undefined);
      if (!content) continue;
      patientsOf(deps, content).forEach((p) => patients.add(p));
    }
    return page;
  };
  return { store: storeView(inner, { history }), patients, reachable };
}
