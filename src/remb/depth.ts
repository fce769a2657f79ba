/**
 * The history depth of the reimbursement feed (dmp-domain.md §4.3: Assurance Maladie keeps
 * 24 months in the DMP; the sources disagree, so it is a setting). Dates are YYYY-MM-DD strings,
 * compared as strings; month arithmetic is calendar arithmetic (31 March − 1 month = 28/29 February).
 */

/** Default depth, in months before the import date. */
export const DEFAULT_REMB_DEPTH_MONTHS = 24;

/** The earliest date of care kept: `asOf` minus `months` calendar months (day clamped to the month's end). */
export function depthCutoff(asOf: string, months: number): string {
  if (!Number.isInteger(months) || months < 1 || months > 1200) {
    throw new RangeError(`the history depth must be a whole number of months between 1 and 1200, not ${months}`);
  }
  const [year, month, day] = asOf.split('-').map(Number);
  const total = year * 12 + (month - 1) - months;
  const y = Math.floor(total / 12);
  const m = total % 12;
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return `${String(y).padStart(4, '0')}-${String(m + 1).padStart(2, '0')}-${String(Math.min(day, lastDay)).padStart(2, '0')}`;
}

/** Today's date where the command runs (local calendar), YYYY-MM-DD. */
export function localToday(now = new Date()): string {
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
}
