import { Readable } from 'node:stream';
import { expect } from 'chai';
import { INS_NIA_SYSTEM, INS_NIR_DEMO_SYSTEM, INS_NIR_SYSTEM, INS_NIR_TEST_SYSTEM } from '../../src/dmp/identifiers.js';
import { makeTestIns } from '../../src/dmp/ins.js';
import { columnIndexes, formatCents, insSystemOfKind, isCalendarDate, parseAmountCents, REMB_COLUMNS } from '../../src/remb/csv-format.js';
import { depthCutoff } from '../../src/remb/depth.js';
import { readReimbursementCsv, RembFileError } from '../../src/remb/read-csv.js';

const HEADER = REMB_COLUMNS.join(';');
const INS = makeTestIns(2, '78', '03', '75114', '005');
const AS_OF = '2026-11-22';

function read(text: string, months = 24): ReturnType<typeof readReimbursementCsv> {
  return readReimbursementCsv(Readable.from([Buffer.from(text, 'utf8')]), { asOf: AS_OF, months });
}

function row(fields: Partial<Record<(typeof REMB_COLUMNS)[number], string>> = {}): string {
  const line = { ins_kind: 'INS-NIR-TEST', ins: INS, care_date: '2026-01-15', act_code: 'G', act_label: 'Consultation', amount_paid: '30,00', amount_reimbursed: '19.00', performer: 'Dr DURAND', ...fields };
  return REMB_COLUMNS.map((c) => line[c]).join(';');
}

describe('reimbursement CSV: fields', () => {
  it('when the INS kind is a FR Core type code (with or without INS-), an OID or urn:oid, then it gives the INS system; otherwise undefined', () => {
    expect(insSystemOfKind('INS-NIR')).to.equal(INS_NIR_SYSTEM);
    expect(insSystemOfKind('nia')).to.equal(INS_NIA_SYSTEM);
    expect(insSystemOfKind(' INS-NIR-TEST ')).to.equal(INS_NIR_TEST_SYSTEM);
    expect(insSystemOfKind('1.2.250.1.213.1.4.11')).to.equal(INS_NIR_DEMO_SYSTEM);
    expect(insSystemOfKind('urn:oid:1.2.250.1.213.1.4.8')).to.equal(INS_NIR_SYSTEM);
    expect(insSystemOfKind('INS-C')).to.equal(undefined);
    expect(insSystemOfKind('1.2.250.1.213.1.4.12')).to.equal(undefined);
  });

  it('when an amount has a decimal point or comma and at most 2 decimals, then it is read as cents; a sign, letters or 3 decimals are refused', () => {
    expect(parseAmountCents('12')).to.equal(1200);
    expect(parseAmountCents('12,5')).to.equal(1250);
    expect(parseAmountCents('12.05')).to.equal(1205);
    expect(parseAmountCents('0')).to.equal(0);
    for (const bad of ['-1', '+3', '12.505', '1 200', '3O', '', '.5', '12.']) {
      expect(parseAmountCents(bad), bad).to.equal(undefined);
    }
    expect(formatCents(1250)).to.equal('12.50');
    expect(formatCents(5)).to.equal('0.05');
  });

  it('when a date is YYYY-MM-DD and exists in the calendar, then it is a date; 2026-02-29, 2026-13-01, 15/01/2026 are not', () => {
    expect(isCalendarDate('2024-02-29')).to.equal(true);
    for (const bad of ['2026-02-29', '2026-13-01', '2026-00-10', '15/01/2026', '2026-1-5', '']) {
      expect(isCalendarDate(bad), bad).to.equal(false);
    }
  });

  it('when the header misses, repeats or adds a column, then the error names each problem; any order of the right columns is accepted', () => {
    expect(() => columnIndexes(['ins', 'ins_kind'])).to.throw(/missing column\(s\) care_date, act_code/);
    expect(() => columnIndexes([...REMB_COLUMNS, 'comment'])).to.throw(/unknown column\(s\) "comment"/);
    expect(() => columnIndexes([...REMB_COLUMNS.slice(1), 'ins'])).to.throw(/missing column\(s\) ins_kind; repeated column\(s\) ins/);
    const reversed = [...REMB_COLUMNS].reverse();
    expect(columnIndexes(reversed.map((c) => c.toUpperCase())).ins_kind).to.equal(7);
  });

  it('when the history depth is 24 months, then the cutoff is the same day two years before, clamped to the end of a shorter month', () => {
    expect(depthCutoff('2026-11-22', 24)).to.equal('2024-11-22');
    expect(depthCutoff('2026-03-31', 1)).to.equal('2026-02-28');
    expect(depthCutoff('2026-01-15', 13)).to.equal('2024-12-15');
    expect(() => depthCutoff('2026-01-15', 0)).to.throw(RangeError);
  });
});

describe('reimbursement CSV: reading a file', () => {
  it('when the file has a BOM, CRLF line ends, blank lines and quoted fields, then every line is read with its values normalised', async () => {
    const text = `\uFEFF${HEADER}\r\n${row({ performer: '"Dr DURAND; cabinet ""Santé"""', amount_paid: '30' })}\r\n\r\n${row({ ins_kind: 'urn:oid:1.2.250.1.213.1.4.10', care_date: '2026-02-01' })}\r\n`;
    const result = await read(text);
    expect(result.problems).to.deep.equal([]);
    expect(result.linesRead).to.equal(2);
    expect(result.lines.map((l) => l.lineNo)).to.deep.equal([2, 4]);
    expect(result.lines[0]).to.deep.include({ insSystem: INS_NIR_TEST_SYSTEM, ins: INS, careDate: '2026-01-15', performer: 'Dr DURAND; cabinet "Santé"', amountPaidCents: 3000, amountReimbursedCents: 1900 });
  });

  it('when lines are bad (column count, date, amount, INS key, broken quote, unknown kind), then each is reported with its line number and skipped, and the good lines are kept', async () => {
    const badKey = INS.slice(0, 13) + (INS.slice(13) === '01' ? '02' : '01');
    const text = [
      HEADER,
      row(),
      row({ care_date: '2026-13-01' }),
      row({ amount_reimbursed: '19,999' }),
      row({ ins: badKey }),
      'INS-NIR-TEST;' + INS + ';2026-01-15;G',
      row({ act_label: '"Consul"tation' }),
      row({ ins_kind: 'INS-C', act_code: '' }),
      row({ care_date: '2026-12-01' }),
      row({ care_date: '2026-03-03' }),
    ].join('\n');
    const result = await read(text);
    expect(result.linesRead).to.equal(9);
    expect(result.lines.map((l) => l.lineNo)).to.deep.equal([2, 10]);
    const byLine = Object.fromEntries(result.problems.map((p) => [p.lineNo, p.message]));
    expect(Object.keys(byLine).map(Number)).to.deep.equal([3, 4, 5, 6, 7, 8, 9]);
    expect(byLine[3]).to.match(/^care_date: /);
    expect(byLine[4]).to.match(/^amount_reimbursed: amount "19,999"/);
    expect(byLine[5]).to.match(/^ins: INS check key is/);
    expect(byLine[5], 'the INS value is never echoed').to.not.contain(badKey);
    expect(byLine[6]).to.equal('4 column(s) where the header has 8 (is the separator ";"?)');
    expect(byLine[7]).to.match(/^not a valid CSV record: Invalid Closing Quote/);
    expect(byLine[8]).to.match(/^ins_kind: unknown INS kind "INS-C".*; act_code: empty$/);
    expect(byLine[9]).to.equal('care_date: 2026-12-01 is after the import date 2026-11-22');
  });

  it('when lines are older than the depth, then they are counted apart and not kept; a line on the cutoff day is kept', async () => {
    const text = [HEADER, row({ care_date: '2024-11-21' }), row({ care_date: '2024-11-22' }), row({ care_date: '2020-01-01' })].join('\n');
    const result = await read(text);
    expect(result.cutoff).to.equal('2024-11-22');
    expect(result.linesTooOld).to.equal(2);
    expect(result.lines.map((l) => l.careDate)).to.deep.equal(['2024-11-22']);
    expect((await read(text, 120)).lines).to.have.length(3);
  });

  it('when the header is wrong or the file is empty, then reading stops with a RembFileError naming the header line', async () => {
    try {
      await read(`ins,ins_kind,care_date\n${row()}`);
      expect.fail('a comma-separated header must be refused');
    } catch (err) {
      expect(err).to.be.instanceOf(RembFileError);
      expect((err as Error).message).to.match(/^line 1 \(header\): .*missing column/);
    }
    try {
      await read('\n\n');
      expect.fail('an empty file must be refused');
    } catch (err) {
      expect(err).to.be.instanceOf(RembFileError);
      expect((err as Error).message).to.contain('the file is empty');
    }
  });
});
