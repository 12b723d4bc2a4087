/**
 * Who an engine call acts for. The REST layer builds it from the verified
 * token; an engine call without one is the server acting for itself
 * (start-up seeding, AUTH_MODE=none, internal fact gathering) and is neither
 * restricted nor audited.
 */
import type { Principal } from '../identity/principal.js';

export interface RequestContext {
  principal: Principal;
  /** Break-the-glass requested with this stated reason. */
  breakTheGlass?: { reason: string };
  /** Client address and request id, copied into the AuditEvents. */
  clientAddress?: string;
  requestId?: string;
}
