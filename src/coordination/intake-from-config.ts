/** Builds the discharge intake from the configuration (see .tmp/README-coordination.md). */
import type { RelaisConfig } from '../config.js';
import type { AlertRule } from './discharge-alerts.js';
import { DischargeIntake } from './discharge-intake.js';
import { LocalCalendar } from './local-calendar.js';

export function dischargeIntakeFromConfig(config: RelaisConfig): DischargeIntake {
  return new DischargeIntake({
    rules: new Set(config.DISCHARGE_ALERT_RULES.split(',').filter(Boolean) as AlertRule[]),
    fridayFromHour: config.DISCHARGE_FRIDAY_FROM_HOUR,
    leadTimeHours: config.DISCHARGE_LEAD_TIME_HOURS,
    calendar: new LocalCalendar(config.DISCHARGE_TIMEZONE, config.DISCHARGE_HOLIDAY_REGION),
    ...(config.COORDINATION_TEAM_FINESS ? { coordinationTeamFiness: config.COORDINATION_TEAM_FINESS } : {}),
    radiusKm: config.PROFESSIONAL_SEARCH_RADIUS_KM,
    maxCandidates: config.PROFESSIONAL_SEARCH_MAX,
  });
}
