/**
 * Before a batch or transaction Bundle. Its writes then go through the
 * caller's write context (each checked and audited inside the Bundle's own
 * write; conditional entries and references matched within the caller's
 * scope), its read entries through the caller's guarded read, search and
 * history, each allowed, filtered and audited as if sent alone. What is
 * decided up front, before any entry runs:
 * - every write entry's interaction, by its method (POST create, PUT update —
 *   a conditional PUT too, even when it ends up creating —, PATCH, DELETE):
 *   role and scope on its type, as the request alone would be (403);
 * - for callers who may not see everything, writes by id get the answer the
 *   same request would get on its own (beforeWrite: the same status and text
 *   whether a resource they cannot see exists or not) — a PATCH `test` or a
 *   PUT's 200/201 must never run against a hidden resource.
 */
import type { WriteInteraction } from '../engine/access-guard.js';
import type { ClientCaller } from '../engine/caller.js';
import type { GuardDeps } from './guard-deps.js';
import { allowType } from './type-gate.js';
import { beforeWrite } from './write-guard.js';

/** The [type]/[id] a Bundle entry's request.url writes to (relative or absolute, no query). */
const ENTRY_TARGET = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;
/** The [type] of a Bundle entry's request.url, with or without an id or criteria. */
const ENTRY_TYPE = /^(?:[a-z][a-z0-9+.-]*:\/\/[^?]*\/)?([A-Z][A-Za-z]+)(?:[/?]|$)/;
const WRITE_METHODS: Record<string, WriteInteraction> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

export async function beforeBundle(deps: GuardDeps, caller: ClientCaller, body: unknown): Promise<void> {
  const entries = (body as { entry?: unknown })?.entry;
  if (!Array.isArray(entries)) return; // the engine answers the malformed Bundle
  for (const entry of entries as Array<{ request?: { method?: unknown; url?: unknown } }>) {
    const interaction = typeof entry?.request?.method === 'string' ? WRITE_METHODS[entry.request.method.toUpperCase()] : undefined;
    const type = typeof entry?.request?.url === 'string' ? ENTRY_TYPE.exec(entry.request.url)?.[1] : undefined;
    if (interaction && type && deps.ctx.definitions.isResourceType(type)) await allowType(deps, caller, interaction, type);
  }
  // A coordinator of the whole network sees every resource its writes could touch.
  if (caller.principal.kind === 'coordinator' && !caller.principal.launchPatient) return;
  for (const entry of entries as Array<{ request?: { method?: unknown; url?: unknown }; resource?: unknown }>) {
    const method = typeof entry?.request?.method === 'string' ? entry.request.method.toUpperCase() : '';
    const interaction = method === 'PUT' ? 'update' : method === 'PATCH' ? 'patch' : method === 'DELETE' ? 'delete' : undefined;
    const target = typeof entry?.request?.url === 'string' ? ENTRY_TARGET.exec(entry.request.url) : null;
    if (!interaction || !target || !deps.ctx.definitions.isResourceType(target[1])) continue; // the engine answers other entries
    await beforeWrite(deps, caller, interaction, target[1], target[2], entry.resource, true);
  }
}
