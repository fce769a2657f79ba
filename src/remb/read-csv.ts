/**
 * Reads a reimbursement CSV (format in `csv-format.ts`): every line is checked on its own, a bad
 * line is reported with its number and skipped, lines older than the history depth are counted and
 * skipped. Only a file that cannot be used at all (no header, wrong columns) stops the reading.
 */
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { columnIndexes, REMB_COLUMNS, REMB_DELIMITER, toReimbursementLine, type ReimbursementLine, type RembColumn } from './csv-format.js';
import { depthCutoff } from './depth.js';

/** The file cannot be read as a reimbursement CSV (the command exits with code 2). */
export class RembFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RembFileError';
  }
}

/** A line skipped because it is wrong; `message` never contains the INS value. */
export interface LineProblem {
  readonly lineNo: number;
  readonly message: string;
}

export interface ReadOptions {
  /** The import date (YYYY-MM-DD): dates of care after it are bad lines. */
  readonly asOf: string;
  /** History depth in months: lines before `asOf` minus this are skipped and counted. */
  readonly months: number;
}

export interface ReadResult {
  /** Valid lines within the depth, in file order. */
  readonly lines: ReimbursementLine[];
  readonly problems: LineProblem[];
  /** Data lines read (the header and blank lines not counted). */
  readonly linesRead: number;
  /** Valid lines older than the depth. */
  readonly linesTooOld: number;
  /** The earliest date of care kept. */
  readonly cutoff: string;
}

/**
 * Reads the CSV from a stream. Each physical line is one record (fields may be quoted but may not
 * span lines), so a broken quote spoils one line only and line numbers are exact.
 */
export async function readReimbursementCsv(input: Readable, opts: ReadOptions): Promise<ReadResult> {
  const cutoff = depthCutoff(opts.asOf, opts.months);
  const result = { lines: [] as ReimbursementLine[], problems: [] as LineProblem[], linesRead: 0, linesTooOld: 0, cutoff };
  let columns: Record<RembColumn, number> | undefined;
  let lineNo = 0;
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  for await (const raw of lines) {
    lineNo += 1;
    const text = lineNo === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (text.trim() === '') {
      continue;
    }
    if (!columns) {
      columns = headerColumns(text, lineNo);
      continue;
    }
    result.linesRead += 1;
    const line = checkLine(text, lineNo, columns, opts.asOf);
    if ('message' in line) {
      result.problems.push(line);
    } else if (line.careDate < cutoff) {
      result.linesTooOld += 1;
    } else {
      result.lines.push(line);
    }
  }
  if (!columns) {
    throw new RembFileError(`the file is empty: it needs a header line (${REMB_COLUMNS.join(REMB_DELIMITER)}) and data lines`);
  }
  return result;
}

function headerColumns(text: string, lineNo: number): Record<RembColumn, number> {
  const fields = splitRecord(text);
  if (typeof fields === 'string') {
    throw new RembFileError(`line ${lineNo} (header): ${fields}`);
  }
  try {
    return columnIndexes(fields);
  } catch (err) {
    throw new RembFileError(`line ${lineNo} (header): ${(err as Error).message}`);
  }
}

function checkLine(text: string, lineNo: number, columns: Record<RembColumn, number>, asOf: string): ReimbursementLine | LineProblem {
  const fields = splitRecord(text);
  if (typeof fields === 'string') {
    return { lineNo, message: fields };
  }
  if (fields.length !== REMB_COLUMNS.length) {
    return { lineNo, message: `${fields.length} column(s) where the header has ${REMB_COLUMNS.length} (is the separator "${REMB_DELIMITER}"?)` };
  }
  const named = Object.fromEntries(REMB_COLUMNS.map((c) => [c, fields[columns[c]]])) as Record<RembColumn, string>;
  const line = toReimbursementLine(lineNo, named);
  if (Array.isArray(line)) {
    return { lineNo, message: line.map((p) => `${p.column}: ${p.message}`).join('; ') };
  }
  if (line.careDate > asOf) {
    return { lineNo, message: `care_date: ${line.careDate} is after the import date ${asOf}` };
  }
  return line;
}

/** The trimmed fields of one line, or a sentence saying why it is not a CSV record. */
function splitRecord(text: string): string[] | string {
  try {
    const records = parse(text, { delimiter: REMB_DELIMITER, trim: true, relax_column_count: true }) as string[][];
    return records[0] ?? [];
  } catch (err) {
    // csv-parse messages name the problem (e.g. "Invalid Closing Quote") and the line of this one-line input.
    return `not a valid CSV record: ${(err as Error).message.replace(/ at line \d+/, '')}`;
  }
}
