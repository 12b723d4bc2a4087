/**
 * Who a bulk export belongs to, and the caller its worker reads as.
 *
 * Bulk Data IG 2.0.0, "Privacy and Security Considerations": status and file
 * requests "SHALL be protected the same way the Bulk Data Kick-off Request,
 * including an access token with scopes that cover all resources being
 * exported", and servers "MAY additionally restrict [them] by limiting them to
 * the client that originated the export". Relais does both: the owner is the
 * kick-off token's identity AND its scopes (as paging cursors are owned,
 * src/access/listing-guard.ts), so a job is 404 to any other client, to the same
 * client with other scopes, and to the same subject under another role.
 */
import { createHash } from 'node:crypto';
import type { Caller } from '../engine/caller.js';
import type { Principal, PrincipalKind } from '../identity/principal.js';
import { parseScopes } from '../identity/smart-scopes.js';
import type { StoredCaller, StoredPrincipal } from './export-job.js';

function scopeTokens(principal: Principal): string[] {
  const { resourceScopes, other, ignored } = principal.scopes;
  return [...resourceScopes.map((s) => s.raw), ...other, ...ignored];
}

/** The owner key of the jobs a caller starts (a hash: the job document names nobody by it). */
export function ownerOf(caller: Caller): string {
  if (caller.kind === 'anonymous') return 'anonymous';
  if (caller.kind === 'server') return `server:${caller.reason}`;
  const p = caller.principal;
  const scopes = scopeTokens(p).sort().join(' ');
  const identity = [p.issuer, p.subject, p.kind, p.role, p.clientId ?? '', p.finess ?? '', p.rpps ?? '', p.launchPatient ?? '', scopes].join('|');
  return createHash('sha256').update(identity).digest('hex');
}

export function storeCaller(caller: Caller): StoredCaller {
  if (caller.kind === 'anonymous') return { kind: 'anonymous' };
  if (caller.kind === 'server') return { kind: 'server', reason: caller.reason };
  const p = caller.principal;
  const principal: StoredPrincipal = {
    kind: p.kind,
    subject: p.subject,
    issuer: p.issuer,
    role: p.role,
    scope: scopeTokens(p).join(' '),
    ...(p.clientId ? { clientId: p.clientId } : {}),
    ...(p.rpps ? { rpps: p.rpps } : {}),
    ...(p.finess ? { finess: p.finess } : {}),
    ...(p.name ? { name: p.name } : {}),
    ...(p.launchPatient ? { launchPatient: p.launchPatient } : {}),
  };
  return { kind: 'client', principal };
}

/** The caller a worker acts as for a job: the kick-off's principal (never break-the-glass: that is per request). */
export function restoreCaller(stored: StoredCaller, jobId: string): Caller {
  if (stored.kind === 'anonymous') return { kind: 'anonymous', requestId: `bulk-export-${jobId}` };
  if (stored.kind === 'server') return { kind: 'server', reason: stored.reason };
  const { scope, kind, ...rest } = stored.principal;
  const principal: Principal = { ...rest, kind: kind as PrincipalKind, scopes: parseScopes(scope) };
  return { kind: 'client', principal, requestId: `bulk-export-${jobId}` };
}
