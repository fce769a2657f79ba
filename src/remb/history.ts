/**
 * One patient's reimbursement history for one import: the patient's lines, sorted, written as the
 * CSV content of their REMB document, and the document's business identifier derived from it
 * (same INS + same lines → same identifier, which is what makes the feed idempotent).
 */
import { createHash } from 'node:crypto';
import { formatCents, REMB_DELIMITER, type ReimbursementLine } from './csv-format.js';

/** Business identifier system of the REMB documents this feed writes. */
export const REMB_IDENTIFIER_SYSTEM = 'urn:dmp-fhir-server:remb';

/** The columns of a document's content: the file's columns without the INS (the document's subject says whose it is). */
export const CONTENT_COLUMNS = ['care_date', 'act_code', 'act_label', 'amount_paid', 'amount_reimbursed', 'performer'] as const;

export interface PatientHistory {
  readonly insSystem: string;
  readonly ins: string;
  /** The patient's lines, sorted by date of care then every other field. */
  readonly lines: readonly ReimbursementLine[];
  /** The document content: UTF-8 CSV (header + lines, `\n` line ends). */
  readonly content: Buffer;
  /** SHA-256 (hex) of INS system, INS and content: the document's business identifier. */
  readonly identifier: string;
  /** First and last dates of care. */
  readonly period: { readonly start: string; readonly end: string };
  /** Line number of the patient's first line in the file (to report a patient without naming the INS). */
  readonly firstLineNo: number;
}

/** Groups the lines by patient (INS system + INS), in order of first appearance in the file. */
export function groupByPatient(lines: readonly ReimbursementLine[]): PatientHistory[] {
  const groups = new Map<string, ReimbursementLine[]>();
  for (const line of lines) {
    const key = `${line.insSystem}|${line.ins}`;
    const group = groups.get(key);
    if (group) {
      group.push(line);
    } else {
      groups.set(key, [line]);
    }
  }
  return [...groups.values()].map(toHistory);
}

function toHistory(group: ReimbursementLine[]): PatientHistory {
  const sorted = [...group].sort(compareLines);
  const { insSystem, ins } = sorted[0];
  const content = Buffer.from(historyCsv(sorted), 'utf8');
  const identifier = createHash('sha256').update(`${insSystem}|${ins}\n`).update(content).digest('hex');
  return {
    insSystem,
    ins,
    lines: sorted,
    content,
    identifier,
    period: { start: sorted[0].careDate, end: sorted[sorted.length - 1].careDate },
    // The group keeps the file's order.
    firstLineNo: group[0].lineNo,
  };
}

/** The canonical order: the content must not depend on the order of the file. */
function compareLines(a: ReimbursementLine, b: ReimbursementLine): number {
  return (
    compareText(a.careDate, b.careDate) ||
    compareText(a.actCode, b.actCode) ||
    compareText(a.actLabel, b.actLabel) ||
    compareText(a.performer, b.performer) ||
    a.amountPaidCents - b.amountPaidCents ||
    a.amountReimbursedCents - b.amountReimbursedCents
  );
}

/** Code-point order (not locale order), so every machine sorts alike. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The CSV text of sorted lines, header first. */
export function historyCsv(lines: readonly ReimbursementLine[]): string {
  const rows = lines.map((l) => [l.careDate, l.actCode, l.actLabel, formatCents(l.amountPaidCents), formatCents(l.amountReimbursedCents), l.performer]);
  return [CONTENT_COLUMNS, ...rows].map((fields) => fields.map(csvField).join(REMB_DELIMITER)).join('\n') + '\n';
}

/** Quotes a field that holds the separator or a quote (doubling quotes), as RFC 4180 does. */
function csvField(value: string): string {
  return /[;"\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
