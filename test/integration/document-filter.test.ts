/**
 * The DocumentReference search filter (src/policy/document-filter.ts) agrees with the policy:
 * for one patient's DMP holding a document of every kind (types allowed or forbidden by the
 * matrix, each TRE_A07 label and combinations, authored by the searching professional or not,
 * deposited before or after the INVISIBLE_PATIENT delay), the SQL filter run through the repository's
 * search selects, counts and pages exactly the documents `documentMatchesConstraints` and
 * `decide(..., 'read', ...)` accept, for every kind of principal. Documents are created through
 * the API; their facts come from `documentFactsFromDb` (what the read path uses); the patient facts
 * are built by hand.
 */
import { expect } from 'chai';
import type { Coding, DocumentReference, Patient, Practitioner, PractitionerRole, Reference } from '@medplum/fhirtypes';
import {
  decide,
  documentMatchesConstraints,
  readableDocumentConstraints,
  type DocumentConstraints,
  type DocumentFacts,
  type PatientFacts,
  type PolicyOptions,
} from '../../src/policy/decide.js';
import { documentConstraintSql, documentSecurityFilter } from '../../src/policy/document-filter.js';
import { documentFactsFromDb } from '../../src/policy/facts.js';
import { MATRIX_SOURCE_SYSTEMS } from '../../src/policy/habilitation-matrix.js';
import { ResourceRepo } from '../../src/repo/resource-repo.js';
import { INTERNAL, type Principal } from '../../src/policy/principal.js';
import { runSearch, type Cursor, type SearchQuery } from '../../src/repo/search.js';
import { SqlParams } from '../../src/repo/sql.js';
import { currentTable } from '../../src/fhir/resource-types.js';
import { backdateDeposit } from '../helpers/deposit.js';
import {
  CONFIDENTIALITY_SYSTEM,
  DOC_TYPE_COMPLEMENTARY_SYSTEM,
  LOINC_SYSTEM,
  VISIBILITY,
  VISIBILITY_SYSTEM,
} from '../../src/dmp/identifiers.js';
import { getTestServer } from '../helpers/server.js';
import { fhirFetch, testPatient, unique } from '../helpers/fhir.js';
import { createResource } from '../helpers/search.js';
import { testOrganization, testPractitioner, testPractitionerRole } from '../helpers/resources.js';
import { MATRIX, patientUser, professional, roleLessSystemClient, systemClient } from '../helpers/policy-fixtures.js';

const DAY_MS = 86_400_000;
const NOW = new Date('2025-06-01T12:00:00.000Z');
const OPTIONS: PolicyOptions = { now: NOW, matrix: MATRIX, invisiblePatientDelayDays: 30 };
const daysBefore = (days: number, ms = 0): string => new Date(NOW.getTime() - days * DAY_MS + ms).toISOString();

const loinc = (code: string): Coding => ({ system: LOINC_SYSTEM, code });
const a05 = (code: string): Coding => ({ system: DOC_TYPE_COMPLEMENTARY_SYSTEM, code });
const label = (code: string): Coding => ({ system: VISIBILITY_SYSTEM, code });
const MASQUE = label(VISIBILITY.MASQUE_PS);
const INV_PAT = label(VISIBILITY.INVISIBLE_PATIENT);
const INV_RL = label(VISIBILITY.INVISIBLE_REPRESENTANTS_LEGAUX);

/** `author-role`: a live PractitionerRole of the author; `author-deleted-role`: one deleted since. */
type Author = 'author' | 'other' | 'patient' | 'author-role' | 'author-deleted-role';

/** One document of the test DMP, described before it exists. */
interface DocSpec {
  readonly key: string;
  readonly type: Coding[];
  readonly labels?: Coding[];
  readonly authors?: Author[];
  /** When the server stored it (its first version, backdated after creation), and its DocumentReference.date unless `date` says otherwise; absent: stored now, no date. */
  readonly deposited?: string;
  /** DocumentReference.date when it differs from the deposit (null: no date). */
  readonly date?: string | null;
}

const OLD = daysBefore(400);
const RECENT = daysBefore(10);

const SPECS: DocSpec[] = [
  // Types, by what the matrix says of them
  { key: 'consult', type: [loinc('11488-4')], deposited: OLD },
  { key: 'consult-no-date', type: [loinc('11488-4')] },
  { key: 'vaccination', type: [loinc('11369-6')], deposited: OLD },
  { key: 'attest-resid', type: [a05('ATTEST-RESID')], deposited: OLD }, // no profession reads it
  { key: 'psy-75496-0', type: [loinc('75496-0')], deposited: OLD }, // médecins only among our professions
  { key: 'dentist-forbidden-80788-3', type: [loinc('80788-3')], deposited: OLD },
  { key: 'nurse-forbidden-68817-6', type: [loinc('68817-6')], deposited: OLD },
  { key: 'remb', type: [a05('REMB')], deposited: OLD },
  { key: 'unknown-type', type: [loinc('99999-9')], deposited: OLD },
  { key: 'type-without-system', type: [{ code: '11488-4' }], deposited: OLD },
  { key: 'type-in-wrong-system', type: [a05('11488-4')], deposited: OLD },
  { key: 'two-codings-both-allowed', type: [loinc('11488-4'), { code: '11488-4' }], deposited: OLD },
  { key: 'translation-then-loinc', type: [{ system: 'urn:test:local-types', code: 'CR-CONSULT' }, loinc('11488-4')], deposited: OLD },
  { key: 'forbidden-a05-with-code-only-coding', type: [{ code: '11488-4' }, a05('ATTEST-RESID')], deposited: OLD },
  // Ambiguous types (the facts pick one candidate; the SQL wants them all allowed)
  { key: 'ambiguous-two-matrix-codings', type: [loinc('11488-4'), a05('ATTEST-RESID')], deposited: OLD },
  { key: 'ambiguous-no-matrix-coding', type: [{ code: '11488-4' }, { system: 'urn:test:local-types', code: 'CR-CONSULT' }], deposited: OLD },
  { key: 'patient-deposit', type: [a05('DOCPAT01')], authors: ['patient'], deposited: OLD },
  // Authors
  { key: 'masked', type: [loinc('11488-4')], labels: [MASQUE], deposited: OLD },
  { key: 'masked-by-author', type: [loinc('11488-4')], labels: [MASQUE], authors: ['author'], deposited: OLD },
  { key: 'attest-resid-by-author', type: [a05('ATTEST-RESID')], authors: ['author'], deposited: OLD },
  { key: 'psy-by-other-and-author', type: [loinc('75496-0')], labels: [MASQUE], authors: ['other', 'author'], deposited: OLD },
  { key: 'unknown-type-by-author', type: [loinc('99999-9')], authors: ['author'], deposited: OLD },
  { key: 'masked-by-author-role', type: [a05('ATTEST-RESID')], labels: [MASQUE], authors: ['other', 'author-role'], deposited: OLD },
  { key: 'masked-by-author-deleted-role', type: [loinc('11488-4')], labels: [MASQUE], authors: ['author-deleted-role'], deposited: OLD },
  // INVISIBLE_PATIENT and its delay (30 days in OPTIONS)
  { key: 'inv-patient-recent', type: [loinc('11488-4')], labels: [INV_PAT], deposited: RECENT },
  { key: 'inv-patient-old', type: [loinc('11488-4')], labels: [INV_PAT], deposited: OLD },
  { key: 'inv-patient-at-delay', type: [loinc('11488-4')], labels: [INV_PAT], deposited: daysBefore(30) },
  { key: 'inv-patient-1s-inside-delay', type: [loinc('11488-4')], labels: [INV_PAT], deposited: daysBefore(30, 1000) },
  { key: 'inv-patient-1ms-inside-delay', type: [loinc('11488-4')], labels: [INV_PAT], deposited: daysBefore(30, 1) },
  // the same instant as 1 s before the delay's end, written in another time zone
  { key: 'inv-patient-offset-outside-delay', type: [loinc('11488-4')], labels: [INV_PAT], deposited: plusTwoHours(daysBefore(30, -1000)) },
  { key: 'inv-patient-no-date', type: [loinc('11488-4')], labels: [INV_PAT] },
  // the delay counts from the deposit, whatever DocumentReference.date says
  { key: 'inv-patient-no-date-old-deposit', type: [loinc('11488-4')], labels: [INV_PAT], deposited: OLD, date: null },
  { key: 'inv-patient-old-date-recent-deposit', type: [loinc('11488-4')], labels: [INV_PAT], deposited: RECENT, date: OLD },
  { key: 'inv-patient-future-date-old-deposit', type: [loinc('11488-4')], labels: [INV_PAT], deposited: OLD, date: new Date(NOW.getTime() + 400 * DAY_MS).toISOString() },
  { key: 'inv-patient-by-author', type: [loinc('11488-4')], labels: [INV_PAT, MASQUE], authors: ['author'], deposited: RECENT },
  // INVISIBLE_REPRESENTANTS_LEGAUX and combinations
  { key: 'inv-rl', type: [loinc('11488-4')], labels: [INV_RL], deposited: OLD },
  { key: 'masked-inv-patient-recent', type: [loinc('11488-4')], labels: [MASQUE, INV_PAT], deposited: RECENT },
  { key: 'masked-inv-patient-old', type: [loinc('11488-4')], labels: [MASQUE, INV_PAT], deposited: OLD },
  { key: 'masked-inv-rl', type: [loinc('11488-4')], labels: [MASQUE, INV_RL], deposited: OLD },
  { key: 'inv-patient-inv-rl-old', type: [loinc('11488-4')], labels: [INV_PAT, INV_RL], deposited: OLD },
  { key: 'all-three-labels', type: [loinc('11488-4')], labels: [MASQUE, INV_PAT, INV_RL], deposited: RECENT },
  { key: 'forbidden-type-masked', type: [a05('ATTEST-RESID')], labels: [MASQUE], deposited: OLD },
  { key: 'nurse-forbidden-masked', type: [loinc('68817-6')], labels: [MASQUE], deposited: OLD },
  // Codes of the TRE_A07 names in other systems are not visibility labels
  {
    key: 'foreign-labels',
    type: [loinc('11488-4')],
    labels: [{ system: 'urn:test:other-labels', code: VISIBILITY.MASQUE_PS }, { system: 'urn:test:other-labels', code: VISIBILITY.INVISIBLE_PATIENT }],
    deposited: RECENT,
  },
  { key: 'confidentiality-only', type: [loinc('11488-4')], labels: [{ system: CONFIDENTIALITY_SYSTEM, code: 'R' }], deposited: RECENT },
];

/** An instant rewritten with a +02:00 offset (same instant). */
function plusTwoHours(iso: string): string {
  const shifted = new Date(Date.parse(iso) + 2 * 3_600_000).toISOString();
  return shifted.replace('Z', '+02:00');
}

interface Dmp {
  readonly patientId: string;
  readonly otherPatientId: string;
  readonly authorId: string;
  /** key → id */
  readonly ids: ReadonlyMap<string, string>;
  /** id → the facts the policy decides on: one, or one per candidate type coding when the type is ambiguous. */
  readonly facts: ReadonlyMap<string, { readonly facts: DocumentFacts; readonly candidates?: DocumentFacts[] }>;
}

/**
 * When the facts must pick one of several type codings (two of a matrix system, or several coded
 * ones and none of a matrix system), each candidate as the type; undefined otherwise.
 */
function typeCandidates(doc: DocumentReference, facts: DocumentFacts): DocumentFacts[] | undefined {
  const coded = (doc.type?.coding ?? []).filter((c) => c.code);
  const matrix = coded.filter((c) => c.system !== undefined && MATRIX_SOURCE_SYSTEMS.includes(c.system));
  const candidates = matrix.length > 0 ? matrix : coded;
  if (candidates.length < 2) return undefined;
  return candidates.map((c) => ({ ...facts, typeCode: c.code, typeSystem: c.system }));
}

type AuthorRefs = Record<Author, Reference<Practitioner | Patient | PractitionerRole>>;

function documentReference(spec: DocSpec, patientId: string, authorRefs: AuthorRefs): DocumentReference {
  return {
    resourceType: 'DocumentReference',
    identifier: [{ system: 'urn:test:document-filter', value: unique(spec.key) }],
    status: 'current',
    type: { coding: spec.type },
    subject: { reference: `Patient/${patientId}` },
    author: (spec.authors ?? ['other']).map((a) => authorRefs[a]),
    ...(spec.labels ? { securityLabel: spec.labels.map((l) => ({ coding: [l] })) } : {}),
    ...(spec.date !== null && (spec.date ?? spec.deposited) ? { date: spec.date ?? spec.deposited } : {}),
    content: [{ attachment: { contentType: 'application/pdf', title: `${spec.key}.pdf` } }],
  };
}

async function createDmp(): Promise<Dmp> {
  const patient = await createResource(testPatient());
  const other = await createResource(testPatient());
  const author = await createResource(testPractitioner());
  const otherAuthor = await createResource(testPractitioner());
  const organization = await createResource(testOrganization());
  const role = await createResource<PractitionerRole>(testPractitionerRole(author.id, organization.id));
  const formerRole = await createResource<PractitionerRole>(testPractitionerRole(author.id, organization.id));
  const refs: AuthorRefs = {
    author: { reference: `Practitioner/${author.id}` },
    other: { reference: `Practitioner/${otherAuthor.id}` },
    patient: { reference: `Patient/${patient.id}` },
    'author-role': { reference: `PractitionerRole/${role.id}` },
    'author-deleted-role': { reference: `PractitionerRole/${formerRole.id}` },
  };
  const ids = new Map<string, string>();
  const docs: DocumentReference[] = [];
  const { db } = await getTestServer();
  for (const spec of SPECS) {
    const created = await createResource(documentReference(spec, patient.id, refs));
    ids.set(spec.key, created.id);
    docs.push(created);
    if (spec.deposited) {
      await backdateDeposit(db, created.id, spec.deposited);
    }
  }
  const deleted = await fhirFetch(`PractitionerRole/${formerRole.id}`, { method: 'DELETE' });
  expect(deleted.status, await deleted.text()).to.equal(200);
  // Another patient's document, of a type and author everyone here could read: never selected.
  await createResource(documentReference({ key: 'other-patient', type: [loinc('11488-4')], authors: ['author'], date: OLD }, other.id, refs));
  const repo = new ResourceRepo((await getTestServer()).db);
  const facts = new Map<string, { facts: DocumentFacts; candidates?: DocumentFacts[] }>();
  for (const doc of docs) {
    const f = await documentFactsFromDb(repo, doc);
    facts.set(doc.id as string, { facts: f, candidates: typeCandidates(doc, f) });
  }
  return { patientId: patient.id, otherPatientId: other.id, authorId: author.id, ids, facts };
}

/** Facts of the test DMP: a minor, these professionals authorised, one médecin traitant, one professional with extended rights. */
function patientFacts(dmp: Dmp, overrides: Partial<PatientFacts> = {}): PatientFacts {
  return {
    patientId: dmp.patientId,
    closed: false,
    authorised: { practitionerIds: ['pr-med', 'pr-nurse', 'pr-dentist', 'pr-pharmacist', dmp.authorId], organizationIds: [] },
    blocked: { practitionerIds: [], organizationIds: [] },
    emergencyOpposition: { brisDeGlace: false, centre15: false },
    medecinTraitantIds: ['pr-mt'],
    extendedRightsIds: ['pr-nurse-extended'],
    legalRepresentativeIds: ['pat-parent'],
    isMinor: true,
    ...overrides,
  };
}

/**
 * The ids the policy says this principal reads. An ambiguous type is read only when every candidate
 * would be (document-filter.ts), which the read path's single pick always allows too.
 */
function expectedIds(dmp: Dmp, principal: Principal, facts: PatientFacts, constraints: DocumentConstraints, options: PolicyOptions): string[] {
  const reads = (d: DocumentFacts): boolean => {
    const byConstraints = documentMatchesConstraints(d, constraints);
    expect(byConstraints, `documentMatchesConstraints vs decide: ${JSON.stringify(d)}`).to.equal(decide(principal, 'read', { kind: 'document', document: d }, facts, options).allow);
    return byConstraints;
  };
  const out: string[] = [];
  for (const [id, doc] of dmp.facts) {
    const single = reads(doc.facts);
    const all = doc.candidates ? doc.candidates.every(reads) : single;
    if (all) {
      expect(single, `${keyOf(dmp, id)}: the search never lists what a read refuses`).to.equal(true);
      out.push(id);
    }
  }
  return out.sort();
}

function keyOf(dmp: Dmp, id: string): string {
  return [...dmp.ids].find(([, v]) => v === id)?.[0] ?? id;
}

/** Runs the DocumentReference search with the filter, page by page (5 per page); returns the ids and the totals seen. */
async function searchWithFilter(dmp: Dmp, constraints: DocumentConstraints): Promise<{ ids: string[]; totals: number[] }> {
  const { db } = await getTestServer();
  const filter = documentSecurityFilter('DocumentReference', dmp.patientId, constraints);
  const ids: string[] = [];
  const totals: number[] = [];
  let cursor: Cursor | undefined;
  for (let page = 0; page < 50; page++) {
    const query: SearchQuery = { type: 'DocumentReference', filters: [], sort: [], count: 5, cursor, total: true, include: [], revInclude: [] };
    const result = await runSearch(db, query, () => filter);
    ids.push(...result.matches.map((r) => r.id as string));
    totals.push(result.total as number);
    cursor = result.next;
    if (!cursor) break;
  }
  return { ids, totals };
}

const names = (dmp: Dmp, ids: string[]): string[] => ids.map((id) => keyOf(dmp, id)).sort();

interface Case {
  readonly name: string;
  readonly principal: (dmp: Dmp) => Principal;
  readonly facts?: (dmp: Dmp) => PatientFacts;
  readonly options?: PolicyOptions;
  /** Documents this principal must (or must not) read: witnesses that the case tests what it says. */
  readonly reads?: string[];
  readonly hidden?: string[];
  /** The gate refuses: nothing is selected. */
  readonly none?: boolean;
}

const med = (): Principal => professional({ practitionerId: 'pr-med', profession: '10', speciality: 'SM54' });
const CASES: Case[] = [
  {
    name: 'an authorised médecin',
    principal: med,
    reads: ['psy-75496-0', 'remb', 'type-without-system', 'translation-then-loinc', 'two-codings-both-allowed'],
    hidden: ['attest-resid', 'masked', 'unknown-type', 'type-in-wrong-system', 'forbidden-a05-with-code-only-coding', 'ambiguous-two-matrix-codings', 'ambiguous-no-matrix-coding'],
  },
  { name: 'an authorised infirmier', principal: () => professional({ practitionerId: 'pr-nurse', profession: '60' }), reads: ['dentist-forbidden-80788-3', 'inv-patient-recent'], hidden: ['nurse-forbidden-68817-6', 'psy-75496-0', 'remb', 'masked'] },
  { name: 'an authorised chirurgien-dentiste', principal: () => professional({ practitionerId: 'pr-dentist', profession: '40', speciality: 'SCD01' }), reads: ['nurse-forbidden-68817-6'], hidden: ['dentist-forbidden-80788-3', 'masked'] },
  { name: 'an authorised pharmacien', principal: () => professional({ practitionerId: 'pr-pharmacist', profession: '21' }), reads: ['vaccination'], hidden: ['psy-75496-0', 'nurse-forbidden-68817-6'] },
  {
    name: 'an authorised médecin who wrote masked and forbidden documents',
    principal: (dmp) => professional({ practitionerId: dmp.authorId, profession: '10' }),
    reads: ['masked-by-author', 'attest-resid-by-author', 'psy-by-other-and-author', 'unknown-type-by-author', 'inv-patient-by-author', 'masked-by-author-role'],
    hidden: ['masked', 'attest-resid', 'masked-by-author-deleted-role'],
  },
  { name: 'an author who is not authorised', principal: (dmp) => professional({ practitionerId: dmp.authorId, profession: '10' }), facts: (dmp) => patientFacts(dmp, { authorised: { practitionerIds: [], organizationIds: [] } }), none: true },
  { name: 'the médecin traitant', principal: () => professional({ practitionerId: 'pr-mt', profession: '10' }), reads: ['masked', 'masked-inv-rl', 'all-three-labels', 'nurse-forbidden-masked'], hidden: ['attest-resid', 'forbidden-type-masked'] },
  { name: 'an infirmier with extended rights', principal: () => professional({ practitionerId: 'pr-nurse-extended', profession: '60' }), reads: ['masked'], hidden: ['forbidden-type-masked', 'nurse-forbidden-masked', 'nurse-forbidden-68817-6'] },
  { name: 'an infirmier in bris de glace', principal: () => professional({ practitionerId: 'pr-emergency-nurse', profession: '60' }, 'bris_de_glace'), reads: ['consult'], hidden: ['masked', 'nurse-forbidden-68817-6'] },
  { name: 'an infirmier in bris de glace, the patient opposed', principal: () => professional({ practitionerId: 'pr-emergency-nurse', profession: '60' }, 'bris_de_glace'), facts: (dmp) => patientFacts(dmp, { emergencyOpposition: { brisDeGlace: true, centre15: false } }), none: true },
  { name: 'a SAMU regulator in centre 15', principal: () => professional({ practitionerId: 'pr-regulator', profession: '10', regulator: true }, 'centre_15'), reads: ['psy-75496-0'], hidden: ['masked'] },
  { name: 'a blocked médecin', principal: med, facts: (dmp) => patientFacts(dmp, { blocked: { practitionerIds: ['pr-med'], organizationIds: [] } }), none: true },
  {
    name: 'the patient',
    principal: (dmp) => patientUser(dmp.patientId),
    reads: ['attest-resid', 'masked', 'inv-rl', 'inv-patient-old', 'inv-patient-at-delay', 'inv-patient-offset-outside-delay', 'inv-patient-no-date-old-deposit', 'inv-patient-future-date-old-deposit', 'foreign-labels', 'unknown-type'],
    hidden: ['inv-patient-recent', 'inv-patient-1s-inside-delay', 'inv-patient-1ms-inside-delay', 'inv-patient-no-date', 'inv-patient-old-date-recent-deposit', 'inv-patient-by-author', 'all-three-labels'],
  },
  { name: 'the patient, with a 7-day delay', principal: (dmp) => patientUser(dmp.patientId), options: { ...OPTIONS, invisiblePatientDelayDays: 7 }, reads: ['inv-patient-recent', 'inv-patient-1s-inside-delay'], hidden: ['inv-patient-no-date'] },
  { name: 'the legal representative of the minor', principal: () => patientUser('pat-parent', 'Patient/pat-parent'), reads: ['masked', 'inv-patient-old'], hidden: ['inv-rl', 'masked-inv-rl', 'inv-patient-inv-rl-old', 'inv-patient-recent'] },
  { name: 'the legal representative of an adult', principal: () => patientUser('pat-parent', 'Patient/pat-parent'), facts: (dmp) => patientFacts(dmp, { isMinor: false }), none: true },
  { name: 'another patient', principal: (dmp) => patientUser(dmp.otherPatientId), none: true },
  { name: "the insurer's system client", principal: () => systemClient, reads: ['remb'], hidden: ['consult', 'masked', 'vaccination', 'forbidden-a05-with-code-only-coding', 'patient-deposit'] },
  { name: 'a system client without a DMP role', principal: () => roleLessSystemClient, none: true },
  { name: 'the server itself (internal)', principal: () => INTERNAL, reads: ['attest-resid', 'masked', 'all-three-labels', 'inv-patient-no-date'] },
];

describe('document search filter (SQL) agrees with the policy', () => {
  let dmp: Dmp;

  before(async function () {
    this.timeout(120_000);
    dmp = await createDmp();
  });

  for (const c of CASES) {
    it(`when ${c.name} searches the DMP, then the SQL filter selects, counts and pages exactly the documents the policy lets them read`, async () => {
      const principal = c.principal(dmp);
      const facts = c.facts ? c.facts(dmp) : patientFacts(dmp);
      const options = c.options ?? OPTIONS;
      const constraints = readableDocumentConstraints(principal, facts, options);
      expect(constraints.none, JSON.stringify(constraints)).to.equal(c.none === true);
      const expected = expectedIds(dmp, principal, facts, constraints, options);
      const { ids, totals } = await searchWithFilter(dmp, constraints);
      expect(names(dmp, ids)).to.deep.equal(names(dmp, expected));
      expect(ids.length, 'no document twice across pages').to.equal(new Set(ids).size);
      expect(new Set(totals), 'total on every page').to.deep.equal(new Set([expected.length]));
      const readNames = names(dmp, expected);
      for (const key of c.reads ?? []) expect(readNames, `reads ${key}`).to.include(key);
      for (const key of c.hidden ?? []) expect(readNames, `does not read ${key}`).to.not.include(key);
      if (c.none) expect(ids).to.deep.equal([]);
      else expect(ids.length, 'reads some but not all documents').to.be.within(1, principal.kind === 'internal' ? SPECS.length : SPECS.length - 1);
    });
  }

  it('when the server itself searches, then every document of the patient and none of another patient is selected', async () => {
    const { ids } = await searchWithFilter(dmp, readableDocumentConstraints(INTERNAL, patientFacts(dmp), OPTIONS));
    expect(ids.slice().sort()).to.deep.equal([...dmp.ids.values()].sort());
  });

  it('when the filter is queried directly on the DocumentReference table, then it selects the same rows as the search', async () => {
    const { db } = await getTestServer();
    const principal = professional({ practitionerId: dmp.authorId, profession: '60' });
    const facts = patientFacts(dmp);
    const constraints = readableDocumentConstraints(principal, facts, OPTIONS);
    const q = new SqlParams();
    const where = documentSecurityFilter('DocumentReference', dmp.patientId, constraints).toSql(q, 'r');
    const { rows } = await db.query<{ id: string }>(`SELECT r.id FROM ${currentTable('DocumentReference')} r WHERE r.deleted = false AND ${where}`, q.values);
    expect(names(dmp, rows.map((r) => r.id))).to.deep.equal(names(dmp, expectedIds(dmp, principal, facts, constraints, OPTIONS)));
  });
});

describe('document search filter: SQL shape', () => {
  const constraints: DocumentConstraints = {
    none: false,
    allowedTypes: [{ system: LOINC_SYSTEM, code: '11488-4' }, { system: DOC_TYPE_COMPLEMENTARY_SYSTEM, code: 'DOCPAT01' }],
    allowedTypeCodes: ['11488-4', 'DOCPAT01'],
    hiddenLabels: [VISIBILITY.MASQUE_PS],
    exceptAuthorId: 'pr-injection\'--',
    visibleAfter: { label: VISIBILITY.INVISIBLE_PATIENT, depositedAtOrBefore: '2025-05-02T12:00:00.000Z' },
  };

  it('when constraints are translated, then every value is a bind parameter and none appears in the SQL text', () => {
    const q = new SqlParams();
    const sql = documentConstraintSql(q, 'r', constraints);
    for (const value of ['11488-4', 'DOCPAT01', LOINC_SYSTEM, VISIBILITY_SYSTEM, 'MASQUE_PS', 'INVISIBLE_PATIENT', 'pr-injection', '2025-05-02', 'Practitioner', 'DocumentReference', 'security-label']) {
      expect(sql, value).to.not.contain(value);
      expect(q.values.map(String).some((v) => v.includes(value)), `${value} is bound`).to.equal(true);
    }
    expect(q.values.length, 'every placeholder has its value').to.equal(Math.max(...[...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]))));
  });

  it('when the gate refuses (none), then the filter is FALSE and binds nothing', () => {
    const q = new SqlParams();
    expect(documentConstraintSql(q, 'r', { none: true, reason: 'not-authorised' })).to.equal('FALSE');
    expect(documentSecurityFilter('DocumentReference', 'p1', { none: true, reason: 'not-authorised' }).toSql(q, 'r')).to.equal('FALSE');
    expect(q.values).to.deep.equal([]);
  });

  it('when nothing is hidden (the server itself), then the filter keeps only the patient restriction and is not unrestricted', () => {
    const q = new SqlParams();
    const filter = documentSecurityFilter('DocumentReference', 'p1', { none: false, hiddenLabels: [] });
    expect(filter.toSql(q, 'r')).to.equal('(r.patient_id = $1)');
    expect(q.values).to.deep.equal(['p1']);
    expect(filter.unrestricted).to.equal(false);
    expect(filter.resourceType).to.equal('DocumentReference');
  });
});
