/** A FHIR date, dateTime or instant read as the half-open interval [lo, hi) it covers. */
export interface DateRange {
  readonly lo: Date;
  readonly hi: Date;
}

const DATE_RE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * Parses a (possibly partial) FHIR date into the interval it covers: `2020` is the whole year,
 * `2020-03-01T10:00:00Z` one second. Values without a zone are read as UTC. Returns undefined
 * for anything that is not a valid date.
 */
export function parseDateRange(value: string): DateRange | undefined {
  const m = DATE_RE.exec(value.trim());
  if (!m) {
    return undefined;
  }
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = mo ? Number(mo) : 1;
  const day = d ? Number(d) : 1;
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) {
    return undefined;
  }
  if ((h && Number(h) > 23) || (mi && Number(mi) > 59) || (s && Number(s) > 60)) {
    return undefined;
  }
  const offsetMs = zoneOffsetMs(zone);
  const base = Date.UTC(year, month - 1, day, Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0));
  const ms = frac ? Math.floor(Number(frac) * 1000) : 0;
  const lo = base + ms - offsetMs;
  let hi: number;
  if (frac) {
    hi = lo + 1;
  } else if (s) {
    hi = lo + 1000;
  } else if (mi) {
    hi = lo + 60_000;
  } else if (d) {
    hi = Date.UTC(year, month - 1, day + 1) - offsetMs;
  } else if (mo) {
    hi = Date.UTC(year, month, 1);
  } else {
    hi = Date.UTC(year + 1, 0, 1);
  }
  return { lo: new Date(lo), hi: new Date(hi) };
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function zoneOffsetMs(zone: string | undefined): number {
  if (!zone || zone === 'Z') {
    return 0;
  }
  const sign = zone.startsWith('-') ? -1 : 1;
  const [hh, mm] = zone.slice(1).split(':').map(Number);
  return sign * (hh * 60 + mm) * 60_000;
}

/** Lowest and highest representable instants, for open-ended periods. */
export const MIN_DATE = new Date(Date.UTC(1, 0, 1));
export const MAX_DATE = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));
