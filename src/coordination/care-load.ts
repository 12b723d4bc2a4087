/**
 * The nursing load a discharge's orders imply, read from each care order's
 * own schedule (ServiceRequest.occurrenceTiming, R4 Timing): visits a day
 * from repeat.frequency per repeat.period/periodUnit (or the HL7 timing
 * abbreviations BID, TID, QID, QD, QOD), minutes per visit from
 * repeat.duration/durationUnit. An order that says nothing counts as one
 * visit a day of DEFAULT_VISIT_MINUTES, and the explanation says so.
 * The visits a day of the discharge are those of its most frequent order (a
 * nurse does the other acts during the same visits); the minutes add up.
 *
 * "Several long visits a day" is what a liberal nurse's round cannot absorb
 * (DOMAIN.md, "Hard cases"): beyond the network's thresholds
 * (DISCHARGE_LIBERAL_MAX_MINUTES_PER_DAY, DISCHARGE_LIBERAL_MAX_VISITS_PER_DAY)
 * the discharge is a complex case, for HAD, SSIAD or a pair of nurses.
 */
import type { ServiceRequest, Timing } from 'fhir/r4';
import { TECHNICAL_ACTS } from './coordination-codes.js';

export const DEFAULT_VISIT_MINUTES = 30;

/** Visits a day of the HL7 GTSAbbreviation codes a prescription may carry instead of a repeat. */
const ABBREVIATIONS: Record<string, number> = { QD: 1, BID: 2, TID: 3, QID: 4, AM: 1, PM: 1, QOD: 0.5, Q4H: 6, Q6H: 4, Q8H: 3, Q12H: 2 };
const DAYS_PER_UNIT: Record<string, number> = { s: 1 / 86_400, min: 1 / 1_440, h: 1 / 24, d: 1, wk: 7, mo: 30, a: 365 };
const MINUTES_PER_UNIT: Record<string, number> = { s: 1 / 60, min: 1, h: 60 };

export interface OrderLoad {
  orderId: string;
  acts: string[];
  visitsPerDay: number;
  minutesPerVisit: number;
  /** The order gave no schedule or no duration: a default was used. */
  assumed: boolean;
}

export interface CareLoad {
  orders: OrderLoad[];
  visitsPerDay: number;
  minutesPerDay: number;
}

export interface LiberalRoundLimits {
  maxMinutesPerDay: number;
  maxVisitsPerDay: number;
}

function visitsPerDay(timing: Timing | undefined): number | undefined {
  const repeat = timing?.repeat;
  if (repeat?.frequency !== undefined || repeat?.period !== undefined) {
    const frequency = repeat.frequencyMax ?? repeat.frequency ?? 1;
    const days = (repeat.period ?? 1) * (DAYS_PER_UNIT[repeat.periodUnit ?? 'd'] ?? 1);
    return days > 0 ? frequency / days : undefined;
  }
  const code = timing?.code?.coding?.find((c) => c.code && ABBREVIATIONS[c.code] !== undefined)?.code;
  return code ? ABBREVIATIONS[code] : undefined;
}

function minutesPerVisit(timing: Timing | undefined): number | undefined {
  const repeat = timing?.repeat;
  const duration = repeat?.durationMax ?? repeat?.duration;
  if (duration === undefined) return undefined;
  const factor = MINUTES_PER_UNIT[repeat?.durationUnit ?? 'min'];
  return factor === undefined ? undefined : duration * factor;
}

export function careLoad(orders: ServiceRequest[]): CareLoad {
  const loads: OrderLoad[] = orders.map((order) => {
    const visits = visitsPerDay(order.occurrenceTiming);
    const minutes = minutesPerVisit(order.occurrenceTiming);
    return {
      orderId: order.id ?? '',
      acts: (order.code?.coding ?? []).filter((c) => c.system === TECHNICAL_ACTS && c.code).map((c) => c.code!),
      visitsPerDay: visits ?? 1,
      minutesPerVisit: minutes ?? DEFAULT_VISIT_MINUTES,
      assumed: visits === undefined || minutes === undefined,
    };
  });
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    orders: loads,
    visitsPerDay: round(loads.reduce((most, o) => Math.max(most, o.visitsPerDay), 0)),
    minutesPerDay: Math.round(loads.reduce((sum, o) => sum + o.visitsPerDay * o.minutesPerVisit, 0)),
  };
}

/** Whether the load exceeds what a liberal nurse's round can absorb for one patient. */
export function exceedsLiberalRound(load: CareLoad, limits: LiberalRoundLimits): boolean {
  return load.minutesPerDay > limits.maxMinutesPerDay || load.visitsPerDay > limits.maxVisitsPerDay;
}

/** "3 passages par jour, 135 min par jour" (with a note when a default was assumed). */
export function describeLoad(load: CareLoad): string {
  const visits = `${formatNumber(load.visitsPerDay)} passage(s) par jour`;
  const assumed = load.orders.some((o) => o.assumed) ? ` (durée ou fréquence non précisée sur une prescription : ${DEFAULT_VISIT_MINUTES} min et 1 passage par jour retenus)` : '';
  return `${visits}, ${load.minutesPerDay} min de soins par jour${assumed}`;
}

export function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1).replace('.', ',');
}
