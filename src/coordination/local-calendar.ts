/**
 * Where an instant falls on the network's calendar: weekday and hour in the
 * network's time zone (discharges are judged in local time, not UTC), and the
 * French public holidays — fixed ones and Easter-based ones (Easter Monday,
 * Ascension, Whit Monday), computed for any year by the date-holidays library,
 * with regional ones (Alsace-Moselle: Good Friday, St Stephen) when a
 * department is configured.
 */
import Holidays from 'date-holidays';

export interface LocalMoment {
  /** YYYY-MM-DD in the time zone. */
  date: string;
  /** 0 = Sunday ... 6 = Saturday. */
  weekday: number;
  hour: number;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

export class LocalCalendar {
  private readonly holidays: Holidays;
  private readonly format: Intl.DateTimeFormat;

  /** @param region "FR", or "FR-67" for a department with its own holidays. */
  constructor(readonly timeZone: string, region: string) {
    const [country, state] = region.split('-');
    this.holidays = state ? new Holidays(country, state) : new Holidays(country);
    this.format = new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23', weekday: 'short' });
  }

  at(instant: Date): LocalMoment {
    const parts = Object.fromEntries(this.format.formatToParts(instant).map((p) => [p.type, p.value]));
    return { date: `${parts.year}-${parts.month}-${parts.day}`, weekday: WEEKDAYS.indexOf(parts.weekday), hour: Number(parts.hour) };
  }

  /** The name of the public holiday on that local date, if it is one. */
  publicHoliday(date: string): string | undefined {
    const year = Number(date.slice(0, 4));
    return this.holidays.getHolidays(year).find((h) => h.type === 'public' && h.date.slice(0, 10) === date)?.name;
  }

  /** The local date after `date` (YYYY-MM-DD), calendar arithmetic only. */
  static nextDate(date: string): string {
    const d = new Date(`${date}T12:00:00Z`);
    d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString().slice(0, 10);
  }
}
