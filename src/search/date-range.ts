/**
 * The instant range a FHIR date-like value covers (R4 search page, "date"):
 * "2024" covers the whole year, "2024-03-05" the whole day, a dateTime with
 * seconds that second; a Period covers start..end (open ends unbounded).
 * Values without a time zone are taken as UTC (documented in docs/search.md).
 */
const MIN_INSTANT = '0001-01-01T00:00:00.000Z';
const MAX_INSTANT = '9999-12-31T23:59:59.999Z';

export interface DateRange {
  lo: string;
  hi: string;
}

const DATE_LIKE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** Parses one FHIR date/dateTime/instant string into the range it covers; undefined if malformed. */
/**
 * A date or instant given in a URL query: clients such as HAPI FHIR's write the
 * '+' of a time-zone offset unescaped (legal in an RFC 3986 query), and
 * form-style query decoding turns it into a space. A space never occurs in a
 * FHIR date, so "…T10:00:00 01:00" can only mean +01:00.
 */
export function dateFromQuery(raw: string): string {
  return raw.replace(/^(\d{4}-\d{2}-\d{2}T[0-9:.]+) (\d{2}:\d{2})$/, '$1+$2');
}

export function rangeOfDateString(value: string): DateRange | undefined {
  const m = DATE_LIKE.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const year = Number(y);
  if (mo === undefined) return { lo: iso(Date.UTC(year, 0, 1)), hi: iso(Date.UTC(year + 1, 0, 1) - 1) };
  const month = Number(mo) - 1;
  if (month < 0 || month > 11) return undefined;
  if (d === undefined) return { lo: iso(Date.UTC(year, month, 1)), hi: iso(Date.UTC(year, month + 1, 1) - 1) };
  const day = Number(d);
  if (day < 1 || day > new Date(Date.UTC(year, month + 1, 0)).getUTCDate()) return undefined;
  if (h === undefined) return { lo: iso(Date.UTC(year, month, day)), hi: iso(Date.UTC(year, month, day + 1) - 1) };
  const offsetMinutes = !tz || tz === 'Z' ? 0 : (tz[0] === '-' ? -1 : 1) * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6)));
  const base = Date.UTC(year, month, day, Number(h), Number(mi)) - offsetMinutes * 60_000;
  if (s === undefined) return { lo: iso(base), hi: iso(base + 60_000 - 1) };
  const seconds = base + Number(s) * 1000;
  if (frac === undefined) return { lo: iso(seconds), hi: iso(seconds + 999) };
  const digits = frac.length - 1;
  const ms = Number(frac) * 1000;
  const width = digits >= 3 ? 1 : 10 ** (3 - digits);
  return { lo: iso(seconds + Math.floor(ms)), hi: iso(seconds + Math.floor(ms) + width - 1) };
}

function iso(ms: number): string {
  if (!Number.isFinite(ms)) return MAX_INSTANT;
  return new Date(ms).toISOString();
}

export function dateRange(type: string, data: unknown): DateRange | undefined {
  if (typeof data === 'string') return rangeOfDateString(data);
  if (typeof data !== 'object' || data === null) return undefined;
  const record = data as Record<string, unknown>;
  if (type === 'Period') {
    const start = typeof record.start === 'string' ? rangeOfDateString(record.start) : undefined;
    const end = typeof record.end === 'string' ? rangeOfDateString(record.end) : undefined;
    if (!start && !end) return undefined;
    return { lo: start?.lo ?? MIN_INSTANT, hi: end?.hi ?? MAX_INSTANT };
  }
  if (type === 'Timing') {
    const events = Array.isArray(record.event) ? record.event.map((e) => rangeOfDateString(String(e))).filter((r): r is DateRange => !!r) : [];
    const bounds = (record.repeat as { boundsPeriod?: unknown } | undefined)?.boundsPeriod;
    const ranges = [...events, ...(bounds ? [dateRange('Period', bounds)].filter((r): r is DateRange => !!r) : [])];
    if (ranges.length === 0) return undefined;
    return { lo: ranges.map((r) => r.lo).sort()[0], hi: ranges.map((r) => r.hi).sort().at(-1)! };
  }
  return undefined;
}
