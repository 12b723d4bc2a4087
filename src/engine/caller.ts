/**
 * Who an engine call acts for. Every entry into the engine names one
 * (FhirEngine.as / asServer / asAnonymous): there is no "no caller" path, so a
 * forgotten caller is a type error, never an unrestricted, unaudited call.
 */
import type { Principal } from '../identity/principal.js';

/** A client authenticated by its bearer token. */
export interface ClientCaller {
  kind: 'client';
  principal: Principal;
  /** Break-the-glass requested with this stated reason. */
  breakTheGlass?: { reason: string };
  /** Copied into the AuditEvents, to relate them to the HTTP exchange. */
  clientAddress?: string;
  requestId?: string;
}

/**
 * The server doing its own work — seeding its conformance resources, the
 * discharge coordination's lookups, an operation's internal queries, background
 * workers — for a stated reason, which its AuditEvents carry.
 */
export interface ServerCaller {
  kind: 'server';
  reason: string;
}

/**
 * A request on a deployment run without authentication (AUTH_MODE=none, for
 * tests and demos): there is no identity to restrict or to audit, and the
 * server says so loudly at start.
 */
export interface AnonymousCaller {
  kind: 'anonymous';
  clientAddress?: string;
  requestId?: string;
}

export type Caller = ClientCaller | ServerCaller | AnonymousCaller;
