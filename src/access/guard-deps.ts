/**
 * What every part of the access guard works with. The guard is the policy's
 * enforcement point inside the engine: it reads the facts it decides on (the
 * caller's care teams, consents, agreements, the resource's compartment)
 * straight from the engine's own context, as the server, and writes the audit
 * trail; nothing else in the server gets that context (src/engine/fhir-engine.ts).
 */
import type { AuditTrail } from '../audit/audit-trail.js';
import type { EngineContext } from '../engine/engine-context.js';
import type { PolicySettings } from './access-policy.js';
import type { FactCache } from './fact-cache.js';

export interface AccessSettings {
  /** FINESS of the coordination team told about break-the-glass accesses (COORDINATION_TEAM_FINESS). */
  coordinationTeamFiness?: string;
  policy: PolicySettings;
}

export interface GuardDeps {
  ctx: EngineContext;
  trail: AuditTrail;
  settings: AccessSettings;
  /** The principals' access facts, kept while exact (fact-cache.ts). */
  facts: FactCache;
}
