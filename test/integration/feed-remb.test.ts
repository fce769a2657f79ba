/**
 * `npm run feed:remb` (scripts/feed-remb.ts) as a child process against the shared test server, as
 * the registered insurer client `test-insurer`: an import of 10,000 reimbursement lines for 500
 * patients (plus bad lines, old lines, an INS without DMP, a closed DMP), checked through the
 * operator's searches, then the same import again, which adds nothing.
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { exportJWK } from 'jose';
import type { Bundle, BundleEntry, DocumentReference, Patient } from '@medplum/fhirtypes';
import { DOC_TYPE_COMPLEMENTARY_SYSTEM, INS_NIR_TEST_SYSTEM } from '../../src/dmp/identifiers.js';
import { REMB_COLUMNS } from '../../src/remb/csv-format.js';
import { REMB_IDENTIFIER_SYSTEM } from '../../src/remb/history.js';
import { makeClientKey } from '../helpers/auth.js';
import { fhirFetch, randomTestIns, testPatient } from '../helpers/fhir.js';
import { getTestServer } from '../helpers/server.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** A fixed import date, so the dates of care and the depth do not depend on the day the tests run. */
const AS_OF = '2026-06-30';
/**
 * 10,000 lines over 500 patients: every created resource costs the server about 12-15 ms on PGlite
 * (validation, indexes, audit), so the number of documents, not of lines, sets the run time.
 */
const PATIENTS = 500;
const LINES_PER_PATIENT = 20;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Summary {
  linesRead: number;
  badLines: number;
  linesTooOld: number;
  patients: number;
  documentsCreated: number;
  documentsReplaced: number;
  documentsAlreadyPresent: number;
  patientsWithoutDmp: number;
  linesWithoutDmp: number;
  patientsClosedDmp: number;
  patientsFailed: number;
}

/** The feed as a child process (`node --import tsx scripts/feed-remb.ts`), the way npm runs it. */
function feed(args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.BASE_URL;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/feed-remb.ts', ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function json<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).to.equal(status);
  return JSON.parse(text) as T;
}

/** Creates the patients with the operator token, 250 per transaction; returns their ids in order. */
async function createPatients(patients: Patient[]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < patients.length; i += 250) {
    const entry: BundleEntry[] = patients.slice(i, i + 250).map((resource) => ({ fullUrl: `urn:uuid:${randomUUID()}`, resource, request: { method: 'POST', url: 'Patient' } }));
    const answer = await json<Bundle>(await fhirFetch('', { method: 'POST', body: JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry }), headers: { prefer: 'return=minimal' } }));
    ids.push(...(answer.entry ?? []).map((e) => (e.response?.location ?? '').split('/')[1]));
  }
  return ids;
}

/** The operator's count of REMB documents in these records (POST _search, so hundreds of ids fit in the body). */
async function rembCount(patientIds: readonly string[]): Promise<number> {
  const form = new URLSearchParams({ patient: patientIds.join(','), type: `${DOC_TYPE_COMPLEMENTARY_SYSTEM}|REMB`, _summary: 'count' });
  const res = await fhirFetch('DocumentReference/_search', { method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  return (await json<Bundle>(res)).total ?? -1;
}

async function rembDocsOf(patientId: string): Promise<DocumentReference[]> {
  const bundle = await json<Bundle>(await fhirFetch(`DocumentReference?patient=${patientId}&type=${encodeURIComponent(`${DOC_TYPE_COMPLEMENTARY_SYSTEM}|REMB`)}&status=current,superseded`));
  return (bundle.entry ?? []).map((e) => e.resource as DocumentReference);
}

async function binaryCount(since: string): Promise<number> {
  return (await json<Bundle>(await fhirFetch(`Binary?_lastUpdated=ge${encodeURIComponent(since)}&_summary=count`))).total ?? -1;
}

function csvLine(ins: string, careDate: string, n: number, kind = 'INS-NIR-TEST'): string {
  // Alternating decimal comma and point, a label with a quoted separator now and then.
  const label = n % 7 === 0 ? '"Consultation; à domicile"' : 'Consultation de médecine générale';
  const paid = n % 2 === 0 ? `30,${String(n % 100).padStart(2, '0')}` : `25.${String(n % 100).padStart(2, '0')}`;
  return [kind, ins, careDate, n % 3 === 0 ? 'B' : 'G', label, paid, '19,00', `Dr PRATICIEN ${n % 13}`].join(';');
}

/** A date of care in the year before AS_OF, spread over the patient's lines. */
function careDate(i: number, k: number): string {
  const day = 1 + ((i * 7 + k * 31) % 360);
  return new Date(Date.UTC(2025, 6, 1) + day * 86_400_000).toISOString().slice(0, 10);
}

describe('npm run feed:remb (the insurer feeds reimbursement histories over HTTP)', function () {
  // 500 patients to create, then 1,000 resources fed in transactions and a second pass: about 30 s on PGlite.
  this.timeout(180_000);
  let dir: string;
  let keyFile: string;
  let baseUrl: string;
  let csvFile: string;
  let ids: string[];
  let insOf: string[];
  let closedId: string;
  let startedAt: string;
  let expected: { badLineNos: number[]; noDmpFirstLine: number; totalLines: number };
  let first: Run;

  before(async function () {
    const server = await getTestServer();
    baseUrl = server.baseUrl;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-feed-remb-'));
    const { key, clientId } = server.clients.insurer;
    keyFile = path.join(dir, `${clientId}-key.json`);
    fs.writeFileSync(keyFile, JSON.stringify({ ...(await exportJWK(key.privateKey)), kid: key.kid, alg: key.alg }), { mode: 0o600 });

    const patients = Array.from({ length: PATIENTS }, () => testPatient());
    insOf = patients.map((p) => p.identifier?.[0].value as string);
    const closed = testPatient({ active: false });
    [closedId] = await createPatients([closed]);
    ids = await createPatients(patients);
    expect(ids).to.have.length(PATIENTS);

    // 10,000 lines of 500 patients, interleaved (the file is not sorted by patient), then the odd ones.
    const lines: string[] = [REMB_COLUMNS.join(';')];
    for (let k = 0; k < LINES_PER_PATIENT; k += 1) {
      for (let i = 0; i < PATIENTS; i += 1) {
        lines.push(csvLine(insOf[i], careDate(i, k), i * LINES_PER_PATIENT + k));
      }
    }
    const badLineNos: number[] = [];
    const bad = (line: string): void => {
      lines.push(line);
      badLineNos.push(lines.length);
    };
    bad(csvLine(insOf[0], '2026-02-30', 1));
    bad(csvLine(insOf[1], '2026-01-05', 2).replace('19,00', '19,001'));
    bad(csvLine(insOf[2], '2026-01-05', 3).split(';').slice(0, 6).join(';'));
    bad(csvLine(`${insOf[3].slice(0, 13)}${insOf[3].slice(13) === '01' ? '02' : '01'}`, '2026-01-05', 4));
    bad(csvLine(insOf[4], '2026-01-05', 5, 'INS-C'));
    // Older than 24 months before AS_OF: counted apart, not in any document.
    lines.push(csvLine(insOf[5], '2024-06-29', 6), csvLine(insOf[6], '2023-01-01', 7), csvLine(insOf[7], '2020-12-31', 8));
    // A valid INS with no DMP on this server (4 lines), and the closed DMP (2 lines).
    const noDmp = randomTestIns();
    const noDmpFirstLine = lines.length + 1;
    lines.push(...[1, 2, 3, 4].map((k) => csvLine(noDmp, careDate(1, k), 9 + k)));
    lines.push(csvLine(closed.identifier?.[0].value as string, '2026-03-01', 20), csvLine(closed.identifier?.[0].value as string, '2026-03-02', 21));
    csvFile = path.join(dir, 'remb.csv');
    fs.writeFileSync(csvFile, `\uFEFF${lines.join('\r\n')}\r\n`);
    expected = { badLineNos, noDmpFirstLine, totalLines: lines.length - 1 };

    startedAt = new Date().toISOString();
    first = await feed([csvFile, '--base-url', baseUrl, '--client-id', clientId, '--key', keyFile, '--as-of', AS_OF, '--json']);
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('when 10,000 lines of 500 patients are imported, then the command exits 0 and its summary counts lines, bad lines, old lines, patients and 500 documents created', () => {
    expect(first.code, first.stderr).to.equal(0);
    const summary = JSON.parse(first.stdout) as Summary;
    expect(summary).to.deep.include({
      linesRead: expected.totalLines,
      badLines: 5,
      linesTooOld: 3,
      patients: PATIENTS + 2,
      documentsCreated: PATIENTS,
      documentsReplaced: 0,
      documentsAlreadyPresent: 0,
      patientsWithoutDmp: 1,
      linesWithoutDmp: 4,
      patientsClosedDmp: 1,
      patientsFailed: 0,
    });
    expect(PATIENTS * LINES_PER_PATIENT).to.equal(10_000);
  });

  it('when bad lines and patients without a DMP are met, then stderr names each by line number (never by INS) and progress lines are printed', () => {
    for (const lineNo of expected.badLineNos) {
      expect(first.stderr).to.match(new RegExp(`^line ${lineNo}: `, 'm'));
    }
    expect(first.stderr).to.match(new RegExp(`^line ${expected.badLineNos[3]}: ins: INS check key is`, 'm'));
    expect(first.stderr).to.contain(`line ${expected.noDmpFirstLine} (first of 4 line(s) of this patient): no DMP for this INS`);
    expect(first.stderr).to.contain('the DMP of this INS is closed');
    expect(first.stderr).to.match(new RegExp(`^feed-remb: ${PATIENTS + 2}/${PATIENTS + 2} patients \\(100%`, 'm'));
    for (const ins of insOf.slice(0, 10)) {
      expect(first.stderr).to.not.contain(ins);
    }
  });

  it('when the operator counts REMB documents, then every one of the 500 records has exactly one, and the closed record none', async () => {
    expect(await rembCount(ids)).to.equal(PATIENTS);
    for (const id of [ids[0], ids[PATIENTS / 2], ids[PATIENTS - 1]]) {
      expect(await rembDocsOf(id)).to.have.length(1);
    }
    expect(await rembDocsOf(closedId)).to.have.length(0);
  });

  it("when a patient's document is read, then its Binary holds the patient's 20 lines (sorted, old lines left out), and size and SHA-1 hash match the bytes", async () => {
    const [doc] = await rembDocsOf(ids[5]);
    const attachment = doc.content[0].attachment;
    expect(doc.identifier?.[0].system).to.equal(REMB_IDENTIFIER_SYSTEM);
    const { fhirBase } = await getTestServer();
    expect(attachment.url).to.match(new RegExp(`^${fhirBase}/Binary/[0-9a-f-]{36}$`));
    const res = await fhirFetch((attachment.url as string).slice(fhirBase.length + 1), { headers: { accept: 'text/csv' } });
    expect(res.status).to.equal(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(attachment.size).to.equal(bytes.length);
    expect(attachment.hash).to.equal(createHash('sha1').update(bytes).digest('base64'));
    const rows = bytes.toString('utf8').trimEnd().split('\n');
    expect(rows[0]).to.equal('care_date;act_code;act_label;amount_paid;amount_reimbursed;performer');
    expect(rows).to.have.length(1 + LINES_PER_PATIENT);
    const dates = rows.slice(1).map((r) => r.slice(0, 10));
    expect(dates).to.deep.equal([...dates].sort());
    expect(doc.context?.period).to.deep.equal({ start: dates[0], end: dates[dates.length - 1] });
    expect(bytes.toString('utf8')).to.not.contain('2024-06-29');
    expect(doc.subject?.reference).to.equal(`Patient/${ids[5]}`);
  });

  it('when the same file is imported again, then nothing is created: the summary says all 500 are present and no document or Binary is added', async () => {
    const again = await feed([csvFile, '--base-url', baseUrl, '--client-id', 'test-insurer', '--key', keyFile, '--as-of', AS_OF, '--json']);
    expect(again.code, again.stderr).to.equal(0);
    expect(JSON.parse(again.stdout) as Summary).to.deep.include({ documentsCreated: 0, documentsAlreadyPresent: PATIENTS, patientsWithoutDmp: 1, patientsClosedDmp: 1, badLines: 5 });
    expect(await rembCount(ids)).to.equal(PATIENTS);
    expect(await binaryCount(startedAt)).to.equal(PATIENTS);
  });

  it("when a patient's lines change (one more line), then only that patient gets a new document, which replaces (supersedes) the earlier one; an unchanged one does not", async () => {
    // The first two patients' lines, as in the big file (the header and the 5 bad lines keep their places there).
    const all = fs.readFileSync(csvFile, 'utf8').replace(/^\uFEFF/, '').split('\r\n');
    const ofTwo = all.filter((l, n) => n === 0 || ((l.includes(`;${insOf[0]};`) || l.includes(`;${insOf[1]};`)) && !expected.badLineNos.includes(n + 1)));
    const changed = path.join(dir, 'remb-changed.csv');
    fs.writeFileSync(changed, [...ofTwo, csvLine(insOf[0], '2026-06-01', 99_999)].join('\n'));
    const run = await feed([changed, '--base-url', baseUrl, '--client-id', 'test-insurer', '--key', keyFile, '--as-of', AS_OF, '--json']);
    expect(run.code, run.stderr).to.equal(0);
    expect(JSON.parse(run.stdout) as Summary).to.deep.include({ patients: 2, documentsCreated: 1, documentsReplaced: 1, documentsAlreadyPresent: 1 });
    const docs = await rembDocsOf(ids[0]);
    expect(docs.map((d) => d.status).sort()).to.deep.equal(['current', 'superseded']);
    const current = docs.find((d) => d.status === 'current');
    const superseded = docs.find((d) => d.status === 'superseded');
    expect(current?.relatesTo).to.deep.equal([{ code: 'replaces', target: { reference: `DocumentReference/${superseded?.id}` } }]);
    expect(await rembDocsOf(ids[1])).to.have.length(1);
  });

  it('when the key is not the registered one, then the command exits 1 saying the token is refused, and nothing is written', async () => {
    const otherKey = path.join(dir, 'other-key.json');
    const other = await makeClientKey();
    fs.writeFileSync(otherKey, JSON.stringify({ ...(await exportJWK(other.privateKey)), kid: other.kid, alg: other.alg }));
    const run = await feed([csvFile, '--base-url', baseUrl, '--client-id', 'test-insurer', '--key', otherKey, '--as-of', AS_OF]);
    expect(run.code).to.equal(1);
    expect(run.stderr).to.match(/the server refuses a token to client test-insurer \(invalid_client/);
    expect(run.stdout).to.equal('');
  });

  it('when the server cannot be reached, then the command exits 1 saying so', async () => {
    const run = await feed([csvFile, '--base-url', 'http://127.0.0.1:9', '--client-id', 'test-insurer', '--key', keyFile, '--as-of', AS_OF]);
    expect(run.code).to.equal(1);
    expect(run.stderr).to.contain('cannot reach the server at http://127.0.0.1:9/auth/token');
  });

  it('when the file has no usable header or an option is wrong, then the command exits 2 before contacting anyone', async () => {
    const noHeader = path.join(dir, 'no-header.csv');
    fs.writeFileSync(noHeader, 'ins,care_date\n1,2\n');
    const run = await feed([noHeader, '--base-url', 'http://127.0.0.1:9', '--key', keyFile]);
    expect(run.code).to.equal(2);
    expect(run.stderr).to.contain('line 1 (header): the header line must name the columns');
    const badOption = await feed([csvFile, '--months', 'twelve', '--key', keyFile]);
    expect(badOption.code).to.equal(2);
    expect(badOption.stderr).to.contain('--months must be a whole number');
  });
});
