import type { Period } from '@medplum/fhirtypes';
import type { PilotagePeriod } from '../repo/pilotage-queries.js';
import { FhirError } from './outcomes.js';
import { parseDateRange } from './search/date-range.js';

/** The DMP is French: a day of the indicators is a civil day in metropolitan France. */
const REPORT_TIME_ZONE = 'Europe/Paris';

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** The period of a `$pilotage` report: the SQL bounds and the FHIR Period written back. */
export interface ReportPeriod {
  readonly bounds: PilotagePeriod;
  readonly period: Period;
}

/**
 * `period-start` and `period-end`, both required and both inclusive: a date (`2025-03-01`, a whole
 * civil day in Europe/Paris) or a dateTime with its zone (`2025-03-01T08:00:00Z`, to the precision given).
 */
export function reportPeriod(start: string | undefined, end: string | undefined): ReportPeriod {
  const from = bound(start, 'period-start').lo;
  const to = bound(end, 'period-end').hi;
  if (from.getTime() >= to.getTime()) {
    throw new FhirError('BAD_REQUEST', `period-start (${String(start)}) must not be after period-end (${String(end)})`, ['period-start', 'period-end']);
  }
  return { bounds: { from, to }, period: { start, end } };
}

function bound(value: string | undefined, name: string): { lo: Date; hi: Date } {
  if (value === undefined) {
    throw new FhirError('BAD_REQUEST', `${name} is required: a date (YYYY-MM-DD, a day in ${REPORT_TIME_ZONE}) or a dateTime with its time zone`, [name]);
  }
  const day = DATE_RE.exec(value);
  if (day && parseDateRange(value)) {
    const [y, m, d] = day.slice(1).map(Number);
    return { lo: localMidnight(y, m, d), hi: localMidnight(y, m, d + 1) };
  }
  const range = DATE_TIME_RE.test(value) ? parseDateRange(value) : undefined;
  if (!range) {
    throw new FhirError('BAD_REQUEST', `${name} must be a date (YYYY-MM-DD) or a dateTime with its time zone (e.g. 2025-03-01T08:00:00Z), not "${value}"`, [name]);
  }
  return range;
}

/** The instant a civil day starts in REPORT_TIME_ZONE (day overflow allowed: the 32nd is the next month's 1st). */
function localMidnight(year: number, month: number, day: number): Date {
  const naive = Date.UTC(year, month - 1, day);
  let instant = naive - offsetAt(naive);
  // Across a daylight-saving change the offset at the guess may differ from the offset at the answer.
  instant = naive - offsetAt(instant);
  return new Date(instant);
}

const FORMAT = new Intl.DateTimeFormat('en-GB', {
  timeZone: REPORT_TIME_ZONE,
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** How far ahead of UTC the zone's clock is at this instant (ms). */
function offsetAt(instant: number): number {
  const parts = Object.fromEntries(FORMAT.formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
  const wall = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  return wall - Math.floor(instant / 1000) * 1000;
}
