/** Builds the case-management escalation from the configuration (the coordination team it tells). */
import type { RelaisConfig } from '../config.js';
import { CaseManagementEscalation } from './case-management.js';

export function caseManagementFromConfig(config: RelaisConfig): CaseManagementEscalation {
  return new CaseManagementEscalation(config.COORDINATION_TEAM_FINESS ? { coordinationTeamFiness: config.COORDINATION_TEAM_FINESS } : {});
}
