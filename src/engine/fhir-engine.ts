/**
 * The FHIR engine: the interactions of the R4 http page and the operations,
 * knowing nothing of HTTP. It is only ever entered through a session naming
 * its caller (./engine-session.ts):
 * - `as(caller)` for a request (the REST layer builds the caller from the token);
 * - `asServer(reason)` for the server's own work (seeding, the discharge coordination,
 *   an operation's internal lookups, workers), audited as the server's;
 * - `asAnonymous()` for a deployment without authentication (AUTH_MODE=none).
 * The access guard given at construction is asked at every hook point; there
 * is no path around it.
 */
import type { AccessGuard } from './access-guard.js';
import type { AnonymousCaller, Caller } from './caller.js';
import type { EngineContext } from './engine-context.js';
import { EngineSession } from './engine-session.js';
import { applyElements, applySummary, type SummaryMode } from './summary.js';
import type { Resource } from 'fhir/r4';

/** What the rest of the server may know of the engine's set-up: everything but the store. */
export type EngineFacts = Omit<EngineContext, 'store' | 'conditionalScope' | 'revealMatch' | 'entryReader' | 'serverSession'>;

export class FhirEngine {
  /** Definitions, validation, search machinery and base URL (the store is reached through sessions only). */
  readonly facts: EngineFacts;

  constructor(
    private readonly ctx: EngineContext,
    private readonly guard: AccessGuard,
  ) {
    // The context is shared with the guard: both give write extensions the server's session.
    ctx.serverSession = (reason) => this.asServer(reason);
    const { store: _store, ...facts } = ctx;
    this.facts = facts;
  }

  as(caller: Caller): EngineSession {
    return new EngineSession(caller, this.ctx, this.guard, (reason) => this.asServer(reason));
  }

  asServer(reason: string): EngineSession {
    return this.as({ kind: 'server', reason });
  }

  asAnonymous(request?: Omit<AnonymousCaller, 'kind'>): EngineSession {
    return this.as({ kind: 'anonymous', ...request });
  }

  /** _summary / _elements on a single resource (read, vread). */
  shape(resource: Resource, summary: SummaryMode | undefined, elements: string[] | undefined): Resource {
    return applyElements(this.ctx.definitions, applySummary(this.ctx.definitions, resource, summary), elements);
  }
}
