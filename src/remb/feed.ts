/**
 * Feeds patients' reimbursement histories to the server as REMB documents, as the insurer:
 * patients are looked up by INS (many per search), documents already there (same business
 * identifier) are left alone, and the others go in transaction Bundles of a bounded number of
 * patients. A refused transaction is retried patient by patient, so one bad record costs only
 * its own document. Nothing here is fatal but what the session says is (`FeedFatalError`).
 */
import type { Bundle, BundleEntry, DocumentReference, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { DOC_TYPE_COMPLEMENTARY_SYSTEM } from '../dmp/identifiers.js';
import { ACCESS_REASON_SYSTEM } from '../policy/reasons.js';
import { FeedFatalError, outcomeText, type BackendSession } from './backend-session.js';
import { rembEntries } from './document.js';
import { REMB_IDENTIFIER_SYSTEM, type PatientHistory } from './history.js';

export interface FeedOptions {
  /** Patients per transaction Bundle (each brings a DocumentReference and a Binary). */
  readonly batchSize: number;
  /** A Bundle is cut before it grows past this many bytes of JSON (one patient always goes alone). */
  readonly maxBundleBytes: number;
  /** Look patients up and check what is present, but write nothing. */
  readonly dryRun: boolean;
  readonly now: Date;
  readonly author?: string;
}

/** Told after each batch of patients is settled. */
export type ProgressListener = (patientsDone: number) => void;

export type PatientIssueKind = 'no-dmp' | 'closed-dmp' | 'several-records' | 'refused';

/** A patient whose document was not written, named by the file line of their first reimbursement (never by INS). */
export interface PatientIssue {
  readonly kind: PatientIssueKind;
  readonly firstLineNo: number;
  readonly lines: number;
  readonly message: string;
}

export interface FeedResult {
  documentsCreated: number;
  /** Earlier REMB documents the new ones replaced (now superseded). */
  documentsReplaced: number;
  documentsAlreadyPresent: number;
  /** Dry run: the documents a real run would create. */
  documentsToCreate: number;
  patientsWithoutDmp: number;
  linesWithoutDmp: number;
  patientsClosedDmp: number;
  patientsFailed: number;
  readonly issues: PatientIssue[];
}

/** A history whose patient has an open DMP on the server. */
interface Found {
  readonly history: PatientHistory;
  readonly patientId: string;
  /** The patient's current REMB documents, which the new history replaces. */
  readonly replaces?: readonly string[];
}

/** The scopes the feed needs: look patients up, find its documents, create documents and their content. */
export const FEED_SCOPES = 'system/Patient.rs system/DocumentReference.crs system/Binary.c';

/** Feeds every history; `onProgress` gets the number of patients settled so far. */
export async function feedHistories(session: BackendSession, histories: readonly PatientHistory[], opts: FeedOptions, onProgress: ProgressListener = () => {}): Promise<FeedResult> {
  const result: FeedResult = { documentsCreated: 0, documentsReplaced: 0, documentsAlreadyPresent: 0, documentsToCreate: 0, patientsWithoutDmp: 0, linesWithoutDmp: 0, patientsClosedDmp: 0, patientsFailed: 0, issues: [] };
  let done = 0;
  for (let i = 0; i < histories.length; i += opts.batchSize) {
    const batch = histories.slice(i, i + opts.batchSize);
    await feedBatch(session, batch, opts, result);
    done += batch.length;
    onProgress(done);
  }
  return result;
}

async function feedBatch(session: BackendSession, batch: readonly PatientHistory[], opts: FeedOptions, result: FeedResult): Promise<void> {
  const records = await patientsByIns(session, batch);
  const found: Found[] = [];
  for (const history of batch) {
    const matches = records.get(insKey(history)) ?? [];
    if (matches.length === 0) {
      result.patientsWithoutDmp += 1;
      result.linesWithoutDmp += history.lines.length;
      result.issues.push(issue('no-dmp', history, 'no DMP for this INS: its lines are skipped'));
    } else if (matches.length > 1) {
      result.patientsFailed += 1;
      result.issues.push(issue('several-records', history, `this INS matches ${matches.length} records: nothing written, ask the DMP host to resolve it`));
    } else if (matches[0].active === false) {
      result.patientsClosedDmp += 1;
      result.issues.push(issue('closed-dmp', history, 'the DMP of this INS is closed: nothing written'));
    } else {
      found.push({ history, patientId: matches[0].id as string });
    }
  }
  const present = await presentIdentifiers(session, found.map((f) => f.history));
  const current = await currentRembDocuments(session, found.filter((f) => !present.has(f.history.identifier)).map((f) => f.patientId));
  const missing = found.filter((f) => !present.has(f.history.identifier)).map((f) => ({ ...f, replaces: current.get(f.patientId) ?? [] }));
  result.documentsAlreadyPresent += found.length - missing.length;
  if (opts.dryRun) {
    result.documentsToCreate += missing.length;
    return;
  }
  for (const chunk of bySize(missing, opts)) {
    await writeDocuments(session, chunk, opts, result);
  }
}

/** Writes the documents of `chunk` in one transaction; when it is refused and holds several patients, one by one. */
async function writeDocuments(session: BackendSession, chunk: readonly Found[], opts: FeedOptions, result: FeedResult): Promise<void> {
  const bundle = transactionOf(chunk, opts);
  const answer = await session.fhir<Bundle>('POST', '', bundle);
  if (answer.status === 200 && answer.body.resourceType === 'Bundle') {
    // Entry 2k is patient k's DocumentReference: 201 created, 200 found (fed meanwhile by another run).
    chunk.forEach((f, k) => {
      const status = answer.body.entry?.[2 * k]?.response?.status ?? '';
      if (status.startsWith('201')) {
        result.documentsCreated += 1;
        result.documentsReplaced += f.replaces?.length ?? 0;
      } else {
        result.documentsAlreadyPresent += 1;
      }
    });
    return;
  }
  if (chunk.length > 1) {
    for (const one of chunk) {
      await writeDocuments(session, [one], opts, result);
    }
    return;
  }
  if (hasReason(answer.body, 'dmp-closed')) {
    // Closed in a way the lookup did not show (a closure extension in force, or closed meanwhile).
    result.patientsClosedDmp += 1;
    result.issues.push(issue('closed-dmp', chunk[0].history, 'the DMP of this INS is closed: nothing written'));
    return;
  }
  result.patientsFailed += 1;
  result.issues.push(issue('refused', chunk[0].history, `the server refused the document (HTTP ${answer.status}): ${outcomeText(answer.body)}`));
}

/** True when the OperationOutcome gives this DMP access reason. */
function hasReason(body: unknown, code: string): boolean {
  const outcome = body as OperationOutcome;
  return outcome?.resourceType === 'OperationOutcome' && outcome.issue.some((i) => i.details?.coding?.some((c) => c.system === ACCESS_REASON_SYSTEM && c.code === code));
}

function transactionOf(chunk: readonly Found[], opts: FeedOptions): Bundle {
  const entry: BundleEntry[] = chunk.flatMap((f) => rembEntries(f.history, { patientId: f.patientId, now: opts.now, author: opts.author, replaces: f.replaces }));
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

/** Cuts the patients into transactions of at most `batchSize` patients and about `maxBundleBytes`. */
function bySize(found: readonly Found[], opts: FeedOptions): Found[][] {
  const chunks: Found[][] = [];
  let current: Found[] = [];
  let bytes = 0;
  for (const f of found) {
    // base64 content (4/3 of the bytes) plus about 3 kB of metadata per patient.
    const size = Math.ceil((f.history.content.length * 4) / 3) + 3000;
    if (current.length > 0 && (current.length >= opts.batchSize || bytes + size > opts.maxBundleBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(f);
    bytes += size;
  }
  if (current.length > 0) {
    chunks.push(current);
  }
  return chunks;
}

function insKey(h: { insSystem: string; ins: string }): string {
  return `${h.insSystem}|${h.ins}`;
}

/** The Patients of these INS (one search, OR of the identifiers), by `system|value`. */
async function patientsByIns(session: BackendSession, batch: readonly PatientHistory[]): Promise<Map<string, Patient[]>> {
  const wanted = new Set(batch.map(insKey));
  const byIns = new Map<string, Patient[]>();
  const patients = await searchAll<Patient>(session, 'Patient', { identifier: [...wanted].join(',') }, batch.length);
  for (const patient of patients) {
    const keys = new Set((patient.identifier ?? []).map((id) => `${id.system ?? ''}|${id.value ?? ''}`).filter((k) => wanted.has(k)));
    for (const key of keys) {
      byIns.set(key, [...(byIns.get(key) ?? []), patient]);
    }
  }
  return byIns;
}

/** The business identifiers, among these histories', that a REMB document already carries. */
async function presentIdentifiers(session: BackendSession, histories: readonly PatientHistory[]): Promise<Set<string>> {
  if (histories.length === 0) {
    return new Set();
  }
  const identifier = histories.map((h) => `${REMB_IDENTIFIER_SYSTEM}|${h.identifier}`).join(',');
  const docs = await searchAll<DocumentReference>(session, 'DocumentReference', { identifier }, histories.length);
  return new Set(docs.flatMap((d) => (d.identifier ?? []).filter((i) => i.system === REMB_IDENTIFIER_SYSTEM).map((i) => i.value ?? '')));
}

/** The current REMB documents of these patients (the history a new one replaces), by patient id. */
async function currentRembDocuments(session: BackendSession, patientIds: readonly string[]): Promise<Map<string, string[]>> {
  const byPatient = new Map<string, string[]>();
  if (patientIds.length === 0) {
    return byPatient;
  }
  const params = { patient: patientIds.join(','), type: `${DOC_TYPE_COMPLEMENTARY_SYSTEM}|REMB`, status: 'current' };
  for (const doc of await searchAll<DocumentReference>(session, 'DocumentReference', params, Math.max(patientIds.length * 2, 10))) {
    const patientId = doc.subject?.reference?.replace(/^Patient\//, '') ?? '';
    byPatient.set(patientId, [...(byPatient.get(patientId) ?? []), doc.id as string]);
  }
  return byPatient;
}

/** Every match of a search (POST _search, then the `next` links). */
async function searchAll<T>(session: BackendSession, type: string, params: Record<string, string>, count: number): Promise<T[]> {
  const form = new URLSearchParams({ ...params, _count: String(count) }).toString();
  let answer = await session.fhir<Bundle>('POST', `${type}/_search`, form, 'application/x-www-form-urlencoded');
  const out: T[] = [];
  for (;;) {
    if (answer.status !== 200 || answer.body.resourceType !== 'Bundle') {
      // Without its lookups the feed cannot tell who has a DMP or what is already there: stop.
      throw new FeedFatalError(`the server refused the ${type} search (HTTP ${answer.status}): ${outcomeText(answer.body)}`);
    }
    out.push(...(answer.body.entry ?? []).filter((e) => e.search?.mode !== 'include' && e.resource?.resourceType === type).map((e) => e.resource as T));
    const next = answer.body.link?.find((l) => l.relation === 'next')?.url;
    if (!next) {
      return out;
    }
    answer = await session.fhir<Bundle>('GET', next);
  }
}

function issue(kind: PatientIssueKind, history: PatientHistory, message: string): PatientIssue {
  return { kind, firstLineNo: history.firstLineNo, lines: history.lines.length, message };
}
