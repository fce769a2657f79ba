/**
 * THE leak matrix of the DMP rules (issue 4): every kind of principal (professionals, patients, system clients), with a real token of the SMART
 * rig, through every read path, for every kind of document. The expected visibility is written by
 * hand from the rules (one row per principal, below); a cell fails on any leak (a document visible,
 * listed or counted where it must not be) and on any over-blocking (a document the rules let the
 * principal read that a path does not give).
 */
import { expect } from 'chai';
import type { Binary, Bundle, BundleEntry, DocumentReference, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { ACCESS_REASON_SYSTEM } from '../../src/policy/reasons.js';
import {
  authorisation,
  binaryOf,
  block,
  CONSULT_NOTE,
  documentOf,
  dmpPatient,
  legalRepresentative,
  patientToken,
  patientUser,
  practitionerRef,
  professional,
  professionalToken,
  PSYCHIATRIC_SYNTHESIS,
  representativeToken,
  rigUpdate,
  type RigProfessional,
  type Visibility,
} from '../helpers/dmp-rig.js';
import { rigCreate, rigFetch, rigSystemToken, startSmartRig, type SmartRig } from '../helpers/smart-flow.js';

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

type DocKey = 'masked' | 'invisible' | 'psychiatric' | 'normal' | 'hiddenFromRepresentatives';

const DOCS: Record<DocKey, { label: string; type: string; labels: Visibility[] }> = {
  masked: { label: 'document masked from professionals (MASQUE_PS)', type: CONSULT_NOTE, labels: ['MASQUE_PS'] },
  invisible: { label: 'recent INVISIBLE_PATIENT document', type: CONSULT_NOTE, labels: ['INVISIBLE_PATIENT'] },
  psychiatric: { label: 'psychiatric synthesis (68599-0, forbidden to nurses by the matrix)', type: PSYCHIATRIC_SYNTHESIS, labels: [] },
  normal: { label: 'normal consultation note', type: CONSULT_NOTE, labels: [] },
  hiddenFromRepresentatives: { label: 'INVISIBLE_REPRESENTANTS_LEGAUX document', type: CONSULT_NOTE, labels: ['INVISIBLE_REPRESENTANTS_LEGAUX'] },
};
const DOC_KEYS = Object.keys(DOCS) as DocKey[];

type PrincipalKey = 'médecin' | 'nurse' | 'unauthorised' | 'blocked' | 'traitant' | 'author' | 'patient' | 'representative' | 'emergency' | 'insurer' | 'roleLess';

/** What each principal must see of its record: the documents, or a refusal of the whole record (403 + reason). */
type Expected = { readonly sees: readonly DocKey[] } | { readonly refused: string };

const PRINCIPALS: Record<PrincipalKey, { label: string; record: 'adult' | 'minor'; expected: Expected }> = {
  médecin: { label: 'an authorised médecin', record: 'adult', expected: { sees: ['invisible', 'psychiatric', 'normal', 'hiddenFromRepresentatives'] } },
  nurse: { label: 'an authorised nurse (profession 60)', record: 'adult', expected: { sees: ['invisible', 'normal', 'hiddenFromRepresentatives'] } },
  unauthorised: { label: 'an unauthorised professional', record: 'adult', expected: { refused: 'not-authorised' } },
  blocked: { label: 'a blocked professional (authorised and blocked)', record: 'adult', expected: { refused: 'blocked' } },
  traitant: { label: 'the médecin traitant', record: 'adult', expected: { sees: DOC_KEYS } },
  author: { label: 'the author of the masked document', record: 'adult', expected: { sees: DOC_KEYS } },
  patient: { label: 'the patient', record: 'adult', expected: { sees: ['masked', 'psychiatric', 'normal', 'hiddenFromRepresentatives'] } },
  representative: { label: 'the legal representative of the minor', record: 'minor', expected: { sees: ['masked', 'psychiatric', 'normal'] } },
  emergency: { label: 'an unauthorised médecin in bris de glace', record: 'adult', expected: { sees: ['invisible', 'psychiatric', 'normal', 'hiddenFromRepresentatives'] } },
  insurer: { label: "the insurer's system client (system/*.cruds, reads back only REMB)", record: 'adult', expected: { sees: [] } },
  roleLess: { label: 'a system client without a DMP role (system/*.cruds)', record: 'adult', expected: { refused: 'system-not-allowed' } },
};
const PRINCIPAL_KEYS = Object.keys(PRINCIPALS) as PrincipalKey[];

type PathKey = 'read' | 'vread' | 'search' | 'include' | 'revinclude' | 'history-instance' | 'history-type' | 'binary-raw' | 'binary-json' | 'transaction' | 'batch';

const PATHS: Record<PathKey, string> = {
  read: 'reads (GET DocumentReference/id)',
  vread: 'reads every version of (GET DocumentReference/id/_history/n)',
  search: 'searches the record for (DocumentReference?patient=)',
  include: "includes from the normal document (DocumentReference?_include=DocumentReference:relatesto)",
  revinclude: 'reverse-includes from the Patient (Patient?_revinclude=DocumentReference:subject)',
  'history-instance': 'reads the history of (DocumentReference/id/_history)',
  'history-type': 'reads the type history for (DocumentReference/_history)',
  'binary-raw': 'reads the raw Binary of',
  'binary-json': 'reads the Binary as FHIR JSON of',
  transaction: 'reads in a transaction (GET entry)',
  batch: 'reads in a batch (GET entries, read and search)',
};
const PATH_KEYS = Object.keys(PATHS) as PathKey[];

// ---------------------------------------------------------------------------------------------
// The data set: two records (an adult's, a minor's), each with one document of every kind
// ---------------------------------------------------------------------------------------------

interface StoredDoc {
  readonly id: string;
  readonly binaryId: string;
  readonly bytes: string;
  readonly versions: number;
}

interface DmpRecord {
  readonly patientId: string;
  readonly docs: Record<DocKey, StoredDoc>;
}

interface Answer {
  readonly status: number;
  readonly text: string;
  readonly body: unknown;
  readonly contentType: string;
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, text, body, contentType: res.headers.get('content-type') ?? '' };
}

function reasonsOf(a: Answer): string[] {
  const outcome = a.body as OperationOutcome | undefined;
  return (outcome?.issue ?? []).flatMap((i) => i.details?.coding ?? []).filter((c) => c.system === ACCESS_REASON_SYSTEM).map((c) => c.code as string);
}

function expectStatus(a: Answer, status: number, where: string): void {
  expect(a.status, `${where}: ${a.text.slice(0, 600)}`).to.equal(status);
}

function expectRefusal(a: Answer, reason: string, where: string): void {
  expectStatus(a, 403, where);
  expect(reasonsOf(a), `${where}: ${a.text.slice(0, 600)}`).to.include(reason);
}

/** A hidden document answers exactly as an id that does not exist: 404, no reason given. */
function expectAbsent(a: Answer, where: string): void {
  expectStatus(a, 404, where);
  expect((a.body as OperationOutcome).resourceType).to.equal('OperationOutcome');
  expect(reasonsOf(a), `${where}: a hidden document says nothing about why`).to.deep.equal([]);
  expect(a.text, `${where}: a hidden document says nothing about why`).to.not.match(/mask|masqu|INVISIBLE|matri/i);
}

function bundleOf(a: Answer, where: string): Bundle {
  expectStatus(a, 200, where);
  return a.body as Bundle;
}

const docIds = (entries: readonly BundleEntry[] | undefined): string[] =>
  (entries ?? []).filter((e) => e.resource?.resourceType === 'DocumentReference').map((e) => e.resource?.id as string);

describe('DMP leak matrix: every principal × every read path × every kind of document (real SMART tokens)', function () {
  let rig: SmartRig;
  const records = {} as Record<'adult' | 'minor', DmpRecord>;
  const tokens = {} as Record<PrincipalKey, string>;
  const cache = new Map<string, Promise<Answer>>();

  /** One request per (principal, key), shared by the cells that read it. */
  function once(principal: PrincipalKey, key: string, run: () => Promise<Response>): Promise<Answer> {
    const k = `${principal}|${key}`;
    let p = cache.get(k);
    if (!p) {
      p = run().then(answer);
      cache.set(k, p);
    }
    return p;
  }

  const get = (principal: PrincipalKey, path: string, accept?: string): Promise<Answer> =>
    once(principal, `GET ${path} ${accept ?? ''}`, () => rigFetch(rig, path, tokens[principal], accept ? { headers: { accept } } : {}));

  const post = (principal: PrincipalKey, key: string, bundle: Bundle): Promise<Answer> =>
    once(principal, key, () => rigFetch(rig, '', tokens[principal], { method: 'POST', body: JSON.stringify(bundle) }));

  async function makeRecord(patientId: string, author: RigProfessional, otherAuthorId: string): Promise<DmpRecord> {
    const docs = {} as Record<DocKey, StoredDoc>;
    // The normal document comes last and points (relatesTo) to every other one: the _include path.
    for (const key of [...DOC_KEYS.filter((k) => k !== 'normal'), 'normal' as const]) {
      const spec = DOCS[key];
      const masked = key === 'masked';
      // The masked document is deposited visible, then masked (v2): its first version must not leak either.
      const created = await rigCreate(rig, {
        ...documentOf(patientId, { type: spec.type, labels: masked ? [] : spec.labels, authorId: masked ? author.practitionerId : otherAuthorId, title: `${key}.pdf` }),
        ...(key === 'normal'
          ? { relatesTo: DOC_KEYS.filter((k) => k !== 'normal').map((k) => ({ code: 'appends' as const, target: { reference: `DocumentReference/${docs[k].id}` } })) }
          : {}),
      });
      if (masked) {
        await rigUpdate(rig, { ...created, securityLabel: documentOf(patientId, { labels: spec.labels }).securityLabel });
      }
      const bytes = `%PDF-1.4 ${key} of ${patientId}`;
      const binary = await binaryOf(rig, created.id, bytes);
      docs[key] = { id: created.id, binaryId: binary.id, bytes, versions: masked ? 2 : 1 };
    }
    return { patientId, docs };
  }

  before(async function () {
    this.timeout(120_000);
    rig = await startSmartRig();
    const adult = await dmpPatient(rig);
    const minor = await dmpPatient(rig, { birthDate: '2015-06-21' });
    const parent = await dmpPatient(rig, { birthDate: '1985-02-10' });
    await legalRepresentative(rig, minor.id, parent);

    const pros = {
      médecin: await professional(rig, { profession: '10', speciality: 'SM54' }),
      nurse: await professional(rig, { profession: '60', speciality: 'SI01' }),
      unauthorised: await professional(rig, { profession: '10', speciality: 'SM54' }),
      blocked: await professional(rig, { profession: '10', speciality: 'SM54' }),
      traitant: await professional(rig, { profession: '10', speciality: 'SM54' }),
      author: await professional(rig, { profession: '10', speciality: 'SM54' }),
      emergency: await professional(rig, { profession: '10', speciality: 'SM54' }),
      otherAuthor: await professional(rig, { profession: '10', speciality: 'SM54' }),
    };
    for (const who of [pros.médecin, pros.nurse, pros.blocked, pros.author]) {
      await rigCreate(rig, authorisation(adult.id, practitionerRef(who.practitionerId)));
    }
    await rigCreate(rig, block(adult.id, practitionerRef(pros.blocked.practitionerId)));
    const { ins: _ins, ...adultPatient } = adult;
    await rigUpdate<Patient>(rig, { ...adultPatient, generalPractitioner: [practitionerRef(pros.traitant.practitionerId)] });

    records.adult = await makeRecord(adult.id, pros.author, pros.otherAuthor.practitionerId);
    records.minor = await makeRecord(minor.id, pros.author, pros.otherAuthor.practitionerId);

    // Some professionals hold patient/ scopes only (confined to the launch patient), the others patient/ and user/ scopes.
    tokens.médecin = await professionalToken(rig, pros.médecin, adult.id, { scope: 'patient/*.rs' });
    tokens.nurse = await professionalToken(rig, pros.nurse, adult.id, { scope: 'patient/*.rs' });
    tokens.unauthorised = await professionalToken(rig, pros.unauthorised, adult.id);
    tokens.blocked = await professionalToken(rig, pros.blocked, adult.id);
    tokens.traitant = await professionalToken(rig, pros.traitant, adult.id);
    tokens.author = await professionalToken(rig, pros.author, adult.id);
    tokens.emergency = await professionalToken(rig, pros.emergency, adult.id, { scope: 'patient/*.rs', accessMode: 'bris_de_glace', accessReason: 'Patient inconscient aux urgences' });
    tokens.patient = await patientToken(rig, patientUser(rig, adult));
    tokens.representative = await representativeToken(rig, patientUser(rig, parent), minor.id);
    tokens.insurer = await rigSystemToken(rig, 'system/*.cruds', rig.insurer);
    tokens.roleLess = await rigSystemToken(rig, 'system/*.cruds', rig.roleLess);
  });

  after(async () => {
    await rig?.close();
  });

  /** The cell: principal × path × document, against the expected table. */
  async function checkCell(principal: PrincipalKey, path: PathKey, docKey: DocKey): Promise<void> {
    const spec = PRINCIPALS[principal];
    const record = records[spec.record];
    const doc = record.docs[docKey];
    const refused = 'refused' in spec.expected ? spec.expected.refused : undefined;
    const visible = 'sees' in spec.expected && spec.expected.sees.includes(docKey);
    const where = `${principal} ${path} ${docKey}`;
    const single = (a: Answer, check: (a: Answer) => void): void => {
      if (refused) expectRefusal(a, refused, where);
      else if (visible) check(a);
      else expectAbsent(a, where);
    };
    const listed = (ids: string[], what: string): void => {
      if (visible) expect(ids, `${where}: ${what} must list it`).to.include(doc.id);
      else expect(ids, `${where}: ${what} must not list it`).to.not.include(doc.id);
    };

    switch (path) {
      case 'read': {
        const a = await get(principal, `DocumentReference/${doc.id}`);
        single(a, () => expect((bundleOrResource(a, where) as DocumentReference).id).to.equal(doc.id));
        return;
      }
      case 'vread': {
        for (let v = 1; v <= doc.versions; v++) {
          const a = await get(principal, `DocumentReference/${doc.id}/_history/${v}`);
          single(a, () => expect((bundleOrResource(a, `${where} v${v}`) as DocumentReference).meta?.versionId).to.equal(String(v)));
        }
        return;
      }
      case 'search': {
        const a = await get(principal, `DocumentReference?patient=${record.patientId}&_count=100`);
        if (refused) return expectRefusal(a, refused, where);
        listed(docIds(bundleOf(a, where).entry), 'the search');
        return;
      }
      case 'include': {
        const a = await get(principal, includePath(record));
        if (refused) return expectRefusal(a, refused, where);
        const bundle = bundleOf(a, where);
        const seesNormal = 'sees' in spec.expected && spec.expected.sees.includes('normal');
        expect(idsIn(bundle, 'match'), `${where}: the normal document is the match when visible`).to.deep.equal(seesNormal ? [record.docs.normal.id] : []);
        listed(docKey === 'normal' ? idsIn(bundle, 'match') : idsIn(bundle, 'include'), 'the _include');
        return;
      }
      case 'revinclude': {
        const a = await get(principal, `Patient?_id=${record.patientId}&_revinclude=DocumentReference:subject`);
        if (refused && a.status === 403) return expectRefusal(a, refused, where);
        const ids = docIds(bundleOf(a, where).entry);
        if (refused) expect(ids, `${where}: a refused record includes no document`).to.deep.equal([]);
        else listed(ids, 'the _revinclude');
        return;
      }
      case 'history-instance': {
        const a = await get(principal, `DocumentReference/${doc.id}/_history`);
        single(a, () => {
          const bundle = bundleOf(a, where);
          expect(docIds(bundle.entry)).to.deep.equal(Array.from({ length: doc.versions }, () => doc.id));
        });
        return;
      }
      case 'history-type': {
        const a = await get(principal, 'DocumentReference/_history?_count=100');
        if (refused) return expectRefusal(a, refused, where);
        const ids = docIds(bundleOf(a, where).entry);
        if (visible) expect(ids.filter((id) => id === doc.id), `${where}: every version`).to.have.length(doc.versions);
        else expect(ids, `${where}: no version of it`).to.not.include(doc.id);
        return;
      }
      case 'binary-raw': {
        const a = await get(principal, `Binary/${doc.binaryId}`, 'application/pdf');
        single(a, () => {
          expectStatus(a, 200, where);
          expect(a.contentType).to.contain('application/pdf');
          expect(a.text).to.equal(doc.bytes);
        });
        return;
      }
      case 'binary-json': {
        const a = await get(principal, `Binary/${doc.binaryId}`, 'application/fhir+json');
        single(a, () => {
          const binary = bundleOrResource(a, where) as Binary;
          expect(binary.resourceType).to.equal('Binary');
          expect(Buffer.from(binary.data ?? '', 'base64').toString('utf8')).to.equal(doc.bytes);
        });
        return;
      }
      case 'transaction': {
        const a = await post(principal, `transaction ${doc.id}`, {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [{ request: { method: 'GET', url: `DocumentReference/${doc.id}` } }],
        });
        single(a, () => {
          const bundle = bundleOf(a, where);
          expect(bundle.type).to.equal('transaction-response');
          expect(docIds(bundle.entry)).to.deep.equal([doc.id]);
        });
        return;
      }
      case 'batch': {
        const a = await post(principal, 'batch', {
          resourceType: 'Bundle',
          type: 'batch',
          entry: [
            ...DOC_KEYS.map((k) => ({ request: { method: 'GET' as const, url: `DocumentReference/${record.docs[k].id}` } })),
            { request: { method: 'GET' as const, url: `DocumentReference?patient=${record.patientId}&_count=100` } },
          ],
        });
        const bundle = bundleOf(a, where);
        const entry = bundle.entry?.[DOC_KEYS.indexOf(docKey)];
        const search = bundle.entry?.[DOC_KEYS.length];
        const status = entry?.response?.status ?? '';
        const outcome = entry?.response?.outcome as OperationOutcome | undefined;
        const entryReasons = (outcome?.issue ?? []).flatMap((i) => i.details?.coding ?? []).filter((c) => c.system === ACCESS_REASON_SYSTEM).map((c) => c.code);
        if (refused) {
          expect(status, `${where}: read entry`).to.match(/^403/);
          expect(entryReasons, `${where}: read entry reason`).to.include(refused);
          expect(search?.response?.status, `${where}: search entry`).to.match(/^403/);
          return;
        }
        if (visible) {
          expect(status, `${where}: read entry ${JSON.stringify(entry)}`).to.match(/^200/);
          expect(entry?.resource?.id).to.equal(doc.id);
        } else {
          expect(status, `${where}: read entry ${JSON.stringify(entry)}`).to.match(/^404/);
          expect(entry?.resource, `${where}: read entry carries nothing`).to.equal(undefined);
          expect(entryReasons).to.deep.equal([]);
        }
        expect(search?.response?.status).to.match(/^200/);
        listed(docIds((search?.resource as Bundle | undefined)?.entry), 'the batch search entry');
        return;
      }
    }
  }

  function bundleOrResource(a: Answer, where: string): unknown {
    expectStatus(a, 200, where);
    return a.body;
  }

  const includePath = (record: DmpRecord): string => `DocumentReference?patient=${record.patientId}&_id=${record.docs.normal.id}&_include=DocumentReference:relatesto`;

  function idsIn(bundle: Bundle, mode: 'match' | 'include'): string[] {
    return (bundle.entry ?? []).filter((e) => e.resource?.resourceType === 'DocumentReference' && e.search?.mode === mode).map((e) => e.resource?.id as string);
  }

  for (const principal of PRINCIPAL_KEYS) {
    const spec = PRINCIPALS[principal];
    describe(`${spec.label} (${spec.record === 'minor' ? "the minor's record" : "the adult's record"})`, () => {
      for (const path of PATH_KEYS) {
        for (const docKey of DOC_KEYS) {
          const visible = 'sees' in spec.expected && spec.expected.sees.includes(docKey);
          const then = 'refused' in spec.expected ? `refused (403 ${spec.expected.refused})` : visible ? 'it is served' : 'it is absent';
          it(`when ${spec.label} ${PATHS[path]} the ${DOCS[docKey].label}, then ${then}`, async () => {
            await checkCell(principal, path, docKey);
          });
        }
      }

      if ('sees' in spec.expected) {
        const sees = spec.expected.sees;
        const count = sees.length;
        it(`when ${spec.label} searches the record, then Bundle.total and _summary=count count exactly the ${count} visible documents`, async () => {
          const record = records[spec.record];
          const search = bundleOf(await get(principal, `DocumentReference?patient=${record.patientId}&_count=100`), 'search');
          expect(search.total).to.equal(count);
          expect(docIds(search.entry)).to.have.length(count);
          const counted = bundleOf(await get(principal, `DocumentReference?patient=${record.patientId}&_summary=count`), 'count');
          expect(counted.total).to.equal(count);
          expect(counted.entry ?? []).to.have.length(0);
          const paged = bundleOf(await get(principal, `DocumentReference?patient=${record.patientId}&_count=1`), 'paged');
          expect(paged.total).to.equal(count);
        });

        it(`when ${spec.label} includes or reverse-includes the record's documents, then exactly the ${count} visible documents come along`, async () => {
          const record = records[spec.record];
          const included = bundleOf(await get(principal, includePath(record)), 'include');
          expect(docIds(included.entry)).to.have.members(sees.map((k) => record.docs[k].id));
          expect(included.total, 'total counts the matches only').to.equal(sees.includes('normal') ? 1 : 0);
          const rev = bundleOf(await get(principal, `Patient?_id=${record.patientId}&_revinclude=DocumentReference:subject`), 'revinclude');
          expect(docIds(rev.entry)).to.have.members(sees.map((k) => record.docs[k].id));
        });

        it(`when ${spec.label} reads the type history, then it holds only versions of the ${count} visible documents`, async () => {
          const record = records[spec.record];
          const history = bundleOf(await get(principal, 'DocumentReference/_history?_count=100'), 'history');
          const expectedIds = sees.map((k) => record.docs[k].id);
          const listed = [...new Set(docIds(history.entry))];
          if (principal === 'insurer') {
            // The insurer's history spans every record (its REMB feeds): none of this record's documents, REMB only.
            expect(listed.filter((id) => DOC_KEYS.some((k) => record.docs[k].id === id))).to.deep.equal(expectedIds);
            expect((history.entry ?? []).every((e) => (e.resource as DocumentReference | undefined)?.type?.coding?.[0]?.code === 'REMB')).to.equal(true);
          } else {
            expect(listed).to.have.members(expectedIds);
          }
        });
      }
    });
  }

  describe('the matrix as a whole', () => {
    it('when every cell above has run, then no request of the matrix failed with a server error', () => {
      expect(cache.size).to.be.greaterThan(PRINCIPAL_KEYS.length * PATH_KEYS.length);
      const errors = rig.logs.filter((line) => (JSON.parse(line) as { level?: number }).level === 50);
      expect(errors, errors.slice(0, 2).join('\n')).to.deep.equal([]);
    });
  });
});
