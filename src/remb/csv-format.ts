/**
 * The reimbursement CSV the insurer feeds (`npm run feed:remb`): its columns and how each field is
 * checked and normalised. Pure functions; reading the file is `read-csv.ts`.
 *
 * One record per line, `;`-separated (the French spreadsheet default, so amounts may use a decimal
 * comma), fields may be quoted with `"`, UTF-8 with or without BOM, a header line naming the columns.
 */
import { validateIns } from '../dmp/ins.js';
import { INS_KINDS } from '../dmp/identifiers.js';

export const REMB_DELIMITER = ';';

/** The columns of the file, in the order the sample and the documentation list them (any order is read). */
export const REMB_COLUMNS = ['ins_kind', 'ins', 'care_date', 'act_code', 'act_label', 'amount_paid', 'amount_reimbursed', 'performer'] as const;
export type RembColumn = (typeof REMB_COLUMNS)[number];

/** Longest act code and longest label or performer kept (longer ones are a bad line, not truncated). */
const MAX_CODE_LENGTH = 64;
const MAX_TEXT_LENGTH = 200;
/** Up to 999,999,999.99 euros, `.` or `,` as decimal separator, at most 2 decimals. */
const AMOUNT_PATTERN = /^(\d{1,9})(?:[.,](\d{1,2}))?$/;
const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const OID_PREFIX = 'urn:oid:';

/** One valid reimbursement line, normalised. */
export interface ReimbursementLine {
  /** Line number in the file (1 = the header). */
  readonly lineNo: number;
  /** INS identifier system (`urn:oid:...`). */
  readonly insSystem: string;
  readonly ins: string;
  /** YYYY-MM-DD */
  readonly careDate: string;
  readonly actCode: string;
  readonly actLabel: string;
  readonly amountPaidCents: number;
  readonly amountReimbursedCents: number;
  readonly performer: string;
}

/** What is wrong with a field: the column and a sentence (never the INS value itself). */
export interface FieldProblem {
  readonly column: RembColumn;
  readonly message: string;
}

/**
 * The INS system of an `ins_kind` value: the FR Core identifier type (`INS-NIR`, `INS-NIA`,
 * `INS-NIR-TEST`, `INS-NIR-DEMO`, also without the `INS-` prefix), the OID, or `urn:oid:<OID>`.
 */
export function insSystemOfKind(kind: string): string | undefined {
  const value = kind.trim().toUpperCase();
  for (const k of INS_KINDS) {
    const oid = k.system.slice(OID_PREFIX.length);
    if (value === k.typeCode || `INS-${value}` === k.typeCode || value === oid || value === k.system.toUpperCase()) {
      return k.system;
    }
  }
  return undefined;
}

/** A real calendar date written YYYY-MM-DD. */
export function isCalendarDate(value: string): boolean {
  const m = DATE_PATTERN.exec(value);
  if (!m) {
    return false;
  }
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return year >= 1900 && date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** An amount in euros (`12`, `12.5`, `12,50`) as a whole number of cents; undefined when malformed. */
export function parseAmountCents(value: string): number | undefined {
  const m = AMOUNT_PATTERN.exec(value);
  if (!m) {
    return undefined;
  }
  return Number(m[1]) * 100 + Number((m[2] ?? '0').padEnd(2, '0'));
}

/** Cents as euros with two decimals and a point (`1250` → `12.50`), the form the documents carry. */
export function formatCents(cents: number): string {
  return `${Math.trunc(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

/** Where each column sits in a record, from the header; throws a sentence naming what is wrong. */
export function columnIndexes(header: readonly string[]): Record<RembColumn, number> {
  const names = header.map((h) => h.trim().toLowerCase());
  const missing = REMB_COLUMNS.filter((c) => !names.includes(c));
  const unknown = names.filter((n) => !(REMB_COLUMNS as readonly string[]).includes(n));
  const repeated = names.filter((n, i) => names.indexOf(n) !== i);
  const problems = [
    ...(missing.length > 0 ? [`missing column(s) ${missing.join(', ')}`] : []),
    ...(unknown.length > 0 ? [`unknown column(s) ${unknown.map((u) => JSON.stringify(u)).join(', ')}`] : []),
    ...(repeated.length > 0 ? [`repeated column(s) ${[...new Set(repeated)].join(', ')}`] : []),
  ];
  if (problems.length > 0) {
    throw new RangeError(`the header line must name the columns ${REMB_COLUMNS.join(REMB_DELIMITER)} (any order): ${problems.join('; ')}`);
  }
  return Object.fromEntries(REMB_COLUMNS.map((c) => [c, names.indexOf(c)])) as Record<RembColumn, number>;
}

/** Checks and normalises one record (fields already trimmed); every problem of the line is listed. */
export function toReimbursementLine(lineNo: number, fields: Record<RembColumn, string>): ReimbursementLine | FieldProblem[] {
  const problems: FieldProblem[] = [];
  const insSystem = insSystemOfKind(fields.ins_kind);
  if (!insSystem) {
    problems.push({ column: 'ins_kind', message: `unknown INS kind ${JSON.stringify(fields.ins_kind)} (use INS-NIR, INS-NIA, INS-NIR-TEST, INS-NIR-DEMO or the OID)` });
  }
  const ins = fields.ins.toUpperCase();
  const insCheck = validateIns(ins);
  if (!insCheck.ok) {
    problems.push({ column: 'ins', message: insCheck.message });
  }
  if (!isCalendarDate(fields.care_date)) {
    problems.push({ column: 'care_date', message: `date of care ${JSON.stringify(fields.care_date)} is not a date written YYYY-MM-DD` });
  }
  problems.push(...textProblems('act_code', fields.act_code, MAX_CODE_LENGTH));
  problems.push(...textProblems('act_label', fields.act_label, MAX_TEXT_LENGTH));
  problems.push(...textProblems('performer', fields.performer, MAX_TEXT_LENGTH));
  const paid = parseAmountCents(fields.amount_paid);
  const reimbursed = parseAmountCents(fields.amount_reimbursed);
  for (const [column, value, cents] of [['amount_paid', fields.amount_paid, paid], ['amount_reimbursed', fields.amount_reimbursed, reimbursed]] as const) {
    if (cents === undefined) {
      problems.push({ column, message: `amount ${JSON.stringify(value)} is not a non-negative amount in euros with at most 2 decimals (12.50 or 12,50)` });
    }
  }
  if (problems.length > 0 || !insSystem || paid === undefined || reimbursed === undefined) {
    return problems;
  }
  return {
    lineNo,
    insSystem,
    ins,
    careDate: fields.care_date,
    actCode: fields.act_code,
    actLabel: fields.act_label,
    amountPaidCents: paid,
    amountReimbursedCents: reimbursed,
    performer: fields.performer,
  };
}

function textProblems(column: RembColumn, value: string, max: number): FieldProblem[] {
  if (value === '') {
    return [{ column, message: 'empty' }];
  }
  if (value.length > max) {
    return [{ column, message: `longer than ${max} characters` }];
  }
  return [];
}
