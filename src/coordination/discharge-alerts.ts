/**
 * Unsafe-discharge alerts, each a rule the network can switch off in the
 * configuration (DISCHARGE_ALERT_RULES), judged in the network's local time:
 * - friday-afternoon: a Friday discharge from DISCHARGE_FRIDAY_FROM_HOUR on
 *   (a Friday with no known hour counts: nobody can rule it out);
 * - weekend: a Saturday or Sunday discharge;
 * - holiday-eve: a discharge on a French public holiday or the day before one;
 * - short-notice: less than DISCHARGE_LEAD_TIME_HOURS between the notice and the discharge;
 * - missing-items: checklist items the hospital should have provided are missing;
 * - no-nurse-in-range (raised by the nurse-first step): no nurse of the patient's own
 *   (or she declined) and no nurse with capacity within the search radius — none
 *   there, or only professionals who take no new patients or declared fewer
 *   visits a day than the orders need;
 * - complex-case (raised by the nurse-first step): the visits a day the orders
 *   imply exceed a liberal round (care-load.ts); HAD, SSIAD and SAAD with
 *   places are proposed.
 * A cancelled stay raises nothing (its alerts are closed).
 */
import { CHECKLIST_DISPLAY, type ChecklistItem } from './coordination-codes.js';
import type { Checklist } from './discharge-checklist.js';
import type { Discharge } from './discharge.js';
import { LocalCalendar } from './local-calendar.js';

export type AlertRule = 'friday-afternoon' | 'weekend' | 'holiday-eve' | 'short-notice' | 'missing-items' | 'no-nurse-in-range' | 'complex-case';

export const ALERT_RULES: readonly AlertRule[] = ['friday-afternoon', 'weekend', 'holiday-eve', 'short-notice', 'missing-items', 'no-nurse-in-range', 'complex-case'];

export interface AlertSettings {
  rules: Set<AlertRule>;
  fridayFromHour: number;
  leadTimeHours: number;
  calendar: LocalCalendar;
}

export interface Alert {
  rule: AlertRule;
  /** One line, in French, for the coordination team. */
  text: string;
}

export function evaluateAlerts(discharge: Discharge, checklist: Checklist, settings: AlertSettings): Alert[] {
  const alerts: Alert[] = [];
  if (discharge.cancelled) return alerts;
  const on = (rule: AlertRule) => settings.rules.has(rule);
  if (discharge.at) {
    const local = settings.calendar.at(discharge.at);
    const when = discharge.dateOnly ? local.date : `${local.date} ${String(local.hour).padStart(2, '0')}h`;
    if (on('friday-afternoon') && local.weekday === 5 && (discharge.dateOnly || local.hour >= settings.fridayFromHour)) {
      alerts.push({ rule: 'friday-afternoon', text: `Sortie un vendredi après-midi ou soir (${when}) : professionnels et pharmacies difficiles à joindre avant lundi` });
    }
    if (on('weekend') && (local.weekday === 6 || local.weekday === 0)) {
      alerts.push({ rule: 'weekend', text: `Sortie un week-end (${when})` });
    }
    if (on('holiday-eve')) {
      const today = settings.calendar.publicHoliday(local.date);
      const tomorrow = settings.calendar.publicHoliday(LocalCalendar.nextDate(local.date));
      if (today) alerts.push({ rule: 'holiday-eve', text: `Sortie un jour férié (${today}, ${local.date})` });
      else if (tomorrow) alerts.push({ rule: 'holiday-eve', text: `Sortie la veille d'un jour férié (${tomorrow}, ${LocalCalendar.nextDate(local.date)})` });
    }
    if (on('short-notice')) {
      const hours = (discharge.at.getTime() - discharge.noticeFrom.getTime()) / 3_600_000;
      if (hours < settings.leadTimeHours) {
        alerts.push({
          rule: 'short-notice',
          text: `Préavis de ${Math.max(0, Math.round(hours))} h seulement avant la sortie (délai du réseau : ${settings.leadTimeHours} h)`,
        });
      }
    }
  }
  if (on('missing-items')) {
    const missing = (Object.entries(checklist) as Array<[ChecklistItem, string]>).filter(([, status]) => status === 'missing').map(([item]) => item);
    if (missing.length > 0) {
      alerts.push({ rule: 'missing-items', text: `Éléments manquants pour le retour à domicile : ${missing.map((m) => CHECKLIST_DISPLAY[m]).join(', ')}` });
    }
  }
  return alerts;
}
