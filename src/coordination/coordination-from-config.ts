/** Builds the discharge coordination from the configuration (see docs/coordination.md). */
import type { RelaisConfig } from '../config.js';
import type { AlertRule } from './discharge-alerts.js';
import { DischargeCoordination } from './discharge-coordination.js';
import { LocalCalendar } from './local-calendar.js';

export function dischargeCoordinationFromConfig(config: RelaisConfig): DischargeCoordination {
  return new DischargeCoordination({
    rules: new Set(config.DISCHARGE_ALERT_RULES.split(',').filter(Boolean) as AlertRule[]),
    fridayFromHour: config.DISCHARGE_FRIDAY_FROM_HOUR,
    leadTimeHours: config.DISCHARGE_LEAD_TIME_HOURS,
    calendar: new LocalCalendar(config.DISCHARGE_TIMEZONE, config.DISCHARGE_HOLIDAY_REGION),
    ...(config.COORDINATION_TEAM_FINESS ? { coordinationTeamFiness: config.COORDINATION_TEAM_FINESS } : {}),
    radiusKm: config.PROFESSIONAL_SEARCH_RADIUS_KM,
    maxCandidates: config.PROFESSIONAL_SEARCH_MAX,
    liberalRound: { maxMinutesPerDay: config.DISCHARGE_LIBERAL_MAX_MINUTES_PER_DAY, maxVisitsPerDay: config.DISCHARGE_LIBERAL_MAX_VISITS_PER_DAY },
    serviceRadiusKm: config.HOME_CARE_SERVICE_RADIUS_KM,
  });
}
