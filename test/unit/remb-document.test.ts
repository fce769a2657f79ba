import { createHash } from 'node:crypto';
import { expect } from 'chai';
import type { Binary, DocumentReference } from '@medplum/fhirtypes';
import { DOC_CLASS_SYSTEM, DOC_TYPE_COMPLEMENTARY_SYSTEM, INS_NIR_TEST_SYSTEM } from '../../src/dmp/identifiers.js';
import { makeTestIns } from '../../src/dmp/ins.js';
import type { ReimbursementLine } from '../../src/remb/csv-format.js';
import { rembCriteria, rembEntries } from '../../src/remb/document.js';
import { groupByPatient, historyCsv, REMB_IDENTIFIER_SYSTEM } from '../../src/remb/history.js';

const INS_A = makeTestIns(2, '78', '03', '75114', '005');
const INS_B = makeTestIns(1, '81', '11', '2A004', '012');
let lineNo = 1;

function line(ins: string, careDate: string, extra: Partial<ReimbursementLine> = {}): ReimbursementLine {
  lineNo += 1;
  return { lineNo, insSystem: INS_NIR_TEST_SYSTEM, ins, careDate, actCode: 'G', actLabel: 'Consultation', amountPaidCents: 3000, amountReimbursedCents: 1900, performer: 'Dr DURAND', ...extra };
}

describe('reimbursement history: grouping and content', () => {
  it('when lines of two patients are mixed, then there is one history per INS, in order of first appearance, each with its lines sorted by date', () => {
    const lines = [line(INS_B, '2026-03-01'), line(INS_A, '2026-05-02'), line(INS_B, '2025-12-24'), line(INS_A, '2026-01-10')];
    const histories = groupByPatient(lines);
    expect(histories.map((h) => h.ins)).to.deep.equal([INS_B, INS_A]);
    expect(histories[0].lines.map((l) => l.careDate)).to.deep.equal(['2025-12-24', '2026-03-01']);
    expect(histories[0].period).to.deep.equal({ start: '2025-12-24', end: '2026-03-01' });
    expect(histories[0].firstLineNo).to.equal(lines[0].lineNo);
    expect(histories[1].firstLineNo).to.equal(lines[1].lineNo);
  });

  it('when the same lines come in another order, then the content and the identifier are the same; one changed amount changes both', () => {
    const lines = [line(INS_A, '2026-01-10'), line(INS_A, '2026-01-10', { actCode: 'B', actLabel: 'Biologie' }), line(INS_A, '2025-12-01')];
    const [one] = groupByPatient(lines);
    const [two] = groupByPatient([...lines].reverse());
    expect(two.content.equals(one.content)).to.equal(true);
    expect(two.identifier).to.equal(one.identifier);
    const [three] = groupByPatient([...lines.slice(0, 2), { ...lines[2], amountReimbursedCents: 1800 }]);
    expect(three.identifier).to.not.equal(one.identifier);
  });

  it('when two patients have the very same lines, then their identifiers differ (the INS is part of it)', () => {
    const [a, b] = groupByPatient([line(INS_A, '2026-01-10'), line(INS_B, '2026-01-10')]);
    expect(a.content.equals(b.content)).to.equal(true);
    expect(a.identifier).to.not.equal(b.identifier);
    expect(a.identifier).to.match(/^[0-9a-f]{64}$/);
  });

  it('when the content is written, then it is a ;-separated CSV with a header, amounts with 2 decimals, quotes where a field needs them, and no INS', () => {
    const csv = historyCsv([line(INS_A, '2026-01-10', { performer: 'Cabinet "Santé"; Paris', amountPaidCents: 2500, amountReimbursedCents: 1750 })]);
    expect(csv).to.equal('care_date;act_code;act_label;amount_paid;amount_reimbursed;performer\n2026-01-10;G;Consultation;25.00;17.50;"Cabinet ""Santé""; Paris"\n');
    expect(csv).to.not.contain(INS_A);
  });
});

describe('reimbursement history: the REMB document', () => {
  const [history] = groupByPatient([line(INS_A, '2025-12-01'), line(INS_A, '2026-02-03', { actLabel: 'Consultation à domicile' })]);
  const now = new Date('2026-11-22T08:00:00Z');
  const [docEntry, binaryEntry] = rembEntries(history, { patientId: 'p-1', now });
  const doc = docEntry.resource as DocumentReference;
  const binary = binaryEntry.resource as Binary;

  it('when the entries are built, then the DocumentReference comes first, is a conditional create on its identifier, and the Binary points at it', () => {
    expect(docEntry.request).to.deep.equal({ method: 'POST', url: 'DocumentReference', ifNoneExist: rembCriteria(history) });
    expect(decodeURIComponent(rembCriteria(history))).to.equal(`identifier=${REMB_IDENTIFIER_SYSTEM}|${history.identifier}`);
    expect(binaryEntry.request).to.deep.equal({ method: 'POST', url: 'Binary' });
    expect(docEntry.fullUrl).to.match(/^urn:uuid:[0-9a-f-]{36}$/);
    expect(binary.securityContext?.reference).to.equal(docEntry.fullUrl);
    expect(doc.content[0].attachment.url).to.equal(binaryEntry.fullUrl);
  });

  it('when the document is built, then it carries the REMB metadata: type REMB, class 60, format hr:2019, status current, subject, author, label N, period', () => {
    expect(doc.status).to.equal('current');
    expect(doc.type?.coding?.[0]).to.include({ system: DOC_TYPE_COMPLEMENTARY_SYSTEM, code: 'REMB' });
    expect(doc.category?.[0].coding?.[0]).to.include({ system: DOC_CLASS_SYSTEM, code: '60' });
    expect(doc.content[0].format?.code).to.equal('urn:asip:ci-sis:hr:2019');
    expect(doc.subject).to.deep.equal({ reference: 'Patient/p-1' });
    expect(doc.author?.[0].display).to.equal('Assurance Maladie');
    expect(doc.securityLabel?.[0].coding?.[0].code).to.equal('N');
    expect(doc.context?.period).to.deep.equal({ start: '2025-12-01', end: '2026-02-03' });
    expect(doc.date).to.equal(now.toISOString());
    expect(doc.identifier).to.deep.equal([{ use: 'official', system: REMB_IDENTIFIER_SYSTEM, value: history.identifier }]);
  });

  it('when the attachment is described, then size and SHA-1 hash (base64) are those of the Binary bytes, language fr-FR, type text/csv, with a title', () => {
    const bytes = Buffer.from(binary.data ?? '', 'base64');
    expect(bytes.equals(history.content)).to.equal(true);
    const attachment = doc.content[0].attachment;
    expect(attachment.size).to.equal(bytes.length);
    expect(attachment.hash).to.equal(createHash('sha1').update(bytes).digest('base64'));
    expect(attachment).to.include({ contentType: 'text/csv', language: 'fr-FR', title: 'Historique des remboursements du 2025-12-01 au 2026-02-03' });
    expect(binary.contentType).to.equal('text/csv');
  });

  it('when the same history is built again later, then the identifiers and fullUrls are the same (only the dates move)', () => {
    const [again] = rembEntries(history, { patientId: 'p-1', now: new Date('2026-11-23T08:00:00Z') });
    expect(again.fullUrl).to.equal(docEntry.fullUrl);
    expect((again.resource as DocumentReference).masterIdentifier).to.deep.equal(doc.masterIdentifier);
    expect(doc.masterIdentifier?.value).to.match(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
