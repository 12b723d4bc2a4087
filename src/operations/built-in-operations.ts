/**
 * The one place listing the operations this server offers: each is written in
 * its own file in this folder and registered here.
 */
import type { RelaisConfig } from '../config.js';
import type { EngineContext } from '../engine/engine-context.js';
import { findProfessionalsOperation } from './find-professionals.js';
import { inboxOperation } from './inbox.js';
import { markReadOperation } from './mark-read.js';
import { matchOperation } from './match.js';
import type { OperationRegistry } from './operation-registry.js';
import { expandOperation, validateCodeOperation } from './terminology-operations.js';
import { validateOperation } from './validate.js';

export function registerBuiltInOperations(registry: OperationRegistry, ctx: EngineContext, config: RelaisConfig): void {
  registry.register(matchOperation(ctx.validator));
  if (ctx.profileValidation) {
    registry.register(validateOperation(ctx.profileValidation, ctx.limits));
    registry.register(expandOperation(ctx.profileValidation));
    registry.register(validateCodeOperation(ctx.profileValidation));
  }
  registry.register(
    findProfessionalsOperation({
      radiusKm: config.PROFESSIONAL_SEARCH_RADIUS_KM,
      maxCandidates: config.PROFESSIONAL_SEARCH_MAX,
      liberalRound: { maxMinutesPerDay: config.DISCHARGE_LIBERAL_MAX_MINUTES_PER_DAY, maxVisitsPerDay: config.DISCHARGE_LIBERAL_MAX_VISITS_PER_DAY },
      serviceRadiusKm: config.HOME_CARE_SERVICE_RADIUS_KM,
    }),
  );
  const team = config.COORDINATION_TEAM_FINESS ? { coordinationTeamFiness: config.COORDINATION_TEAM_FINESS } : {};
  registry.register(inboxOperation(team));
  registry.register(markReadOperation(team));
}
