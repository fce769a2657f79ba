/**
 * `Patient/{id}/$everything` over HTTP with real SMART tokens (the rig's upstream logins): what each
 * caller gets is what their searches of each type by that patient would show, paged with keyset
 * cursors, Binaries through their readable DocumentReference, one AuditEvent naming the patient.
 */
import { expect } from 'chai';
import type { AuditEvent, Binary, Bundle, BundleEntry, DocumentReference, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { unique } from '../helpers/fhir.js';
import {
  auditEventsOf,
  authorisation,
  binaryOf,
  documentOf,
  dmpPatient,
  expectRefused,
  idsIn,
  json,
  patientToken,
  patientUser,
  practitionerRef,
  professional,
  professionalToken,
  PSYCHIATRIC_SYNTHESIS,
  type RigProfessional,
} from '../helpers/dmp-rig.js';
import { FHIR_JSON } from '../helpers/fhir.js';
import { rigCreate, rigFetch, rigSystemToken, startSmartRig, type SmartRig } from '../helpers/smart-flow.js';

type Doc = DocumentReference & { id: string };
type Bin = Binary & { id: string };

describe('Patient/{id}/$everything (what the caller may see of a record, paged)', function () {
  this.timeout(60_000);
  let rig: SmartRig;
  let patient: { id: string; ins: string };
  let other: { id: string; ins: string };
  const pros = {} as Record<'doctor' | 'nurse' | 'unauthorised' | 'traitant', RigProfessional>;
  const docs = {} as Record<'note' | 'psychiatric' | 'masked' | 'invisible', Doc>;
  const bins = {} as Record<'note' | 'psychiatric' | 'masked' | 'invisible' | 'patientContext', Bin>;
  let otherDoc: Doc;
  let otherBin: Bin;
  const tokens = {} as Record<'patient' | 'nurse' | 'unauthorised' | 'operator' | 'insurer' | 'roleLess', string>;

  const everything = (token: string, query = '', headers: Record<string, string> = {}): Promise<Response> =>
    rigFetch(rig, `Patient/${patient.id}/$everything${query}`, token, { headers });

  /** Follows `next` links from the first page to the last; every page as answered. */
  async function allPages(token: string, query: string): Promise<Bundle[]> {
    const pages = [await json<Bundle>(await everything(token, query), 200)];
    for (let next = nextOf(pages[0]); next; next = nextOf(pages[pages.length - 1])) {
      expect(pages.length, 'paging ends').to.be.lessThan(50);
      pages.push(await json<Bundle>(await fetch(next, { headers: { authorization: `Bearer ${token}`, accept: FHIR_JSON } }), 200));
    }
    return pages;
  }

  const nextOf = (bundle: Bundle): string | undefined => bundle.link?.find((l) => l.relation === 'next')?.url;
  const matches = (bundle: Bundle): BundleEntry[] => (bundle.entry ?? []).filter((e) => e.search?.mode === 'match');
  const refs = (entries: BundleEntry[]): string[] => entries.map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);

  /** What a search of `type` by this patient shows to the token (the reference $everything must agree with). */
  async function searchIds(token: string, type: string): Promise<string[]> {
    const bundle = await json<Bundle>(await rigFetch(rig, `${type}?patient=${patient.id}&_count=100`, token), 200);
    return idsIn(bundle, type, 'match').sort();
  }

  before(async function () {
    this.timeout(180_000);
    rig = await startSmartRig();
    patient = await dmpPatient(rig);
    other = await dmpPatient(rig);
    pros.doctor = await professional(rig, { profession: '10', speciality: 'SM54' });
    pros.nurse = await professional(rig, { profession: '60', speciality: 'SI01' });
    pros.unauthorised = await professional(rig, { profession: '10', speciality: 'SM54' });
    pros.traitant = await professional(rig, { profession: '10', speciality: 'SM54' });
    for (const who of [pros.doctor, pros.nurse]) {
      await rigCreate(rig, authorisation(patient.id, practitionerRef(who.practitionerId)));
    }
    // The médecin traitant, named on the Patient (not an author of anything here).
    const operator = await rigSystemToken(rig);
    const stored = await json<Patient>(await rigFetch(rig, `Patient/${patient.id}`, operator), 200);
    await json(await rigFetch(rig, `Patient/${patient.id}`, operator, { method: 'PUT', body: JSON.stringify({ ...stored, generalPractitioner: [practitionerRef(pros.traitant.practitionerId)] }) }), 200);
    const author = pros.doctor.practitionerId;
    docs.note = await rigCreate(rig, documentOf(patient.id, { authorId: author }));
    docs.psychiatric = await rigCreate(rig, documentOf(patient.id, { type: PSYCHIATRIC_SYNTHESIS, authorId: author }));
    docs.masked = await rigCreate(rig, documentOf(patient.id, { labels: ['MASQUE_PS'], authorId: author }));
    docs.invisible = await rigCreate(rig, documentOf(patient.id, { labels: ['INVISIBLE_PATIENT'], authorId: author }));
    for (const key of Object.keys(docs) as (keyof typeof docs)[]) {
      bins[key] = await binaryOf(rig, docs[key].id, `content of ${key}`);
    }
    // A Binary of the record outside any document: nobody's under the DMP rules, the operator's by its scopes.
    bins.patientContext = await rigCreate(rig, { resourceType: 'Binary', contentType: 'text/plain', securityContext: { reference: `Patient/${patient.id}` }, data: Buffer.from('loose').toString('base64') });
    otherDoc = await rigCreate(rig, documentOf(other.id, { authorId: author }));
    otherBin = await binaryOf(rig, otherDoc.id, 'someone else');

    tokens.patient = await patientToken(rig, patientUser(rig, patient));
    tokens.nurse = await professionalToken(rig, pros.nurse, patient.id);
    tokens.unauthorised = await professionalToken(rig, pros.unauthorised, patient.id);
    tokens.operator = await rigSystemToken(rig);
    tokens.insurer = await rigSystemToken(rig, 'system/*.cruds', rig.insurer);
    tokens.roleLess = await rigSystemToken(rig, 'system/*.cruds', rig.roleLess);
  });

  after(async () => {
    await rig?.close();
  });

  describe('as the patient', () => {
    let bundle: Bundle;
    const requestId = unique('req-everything-');

    before(async () => {
      bundle = await json<Bundle>(await everything(tokens.patient, '?_count=100', { 'x-request-id': requestId }), 200);
    });

    it('when the patient asks for everything, then the Bundle is a searchset with their Patient, their documents but the recent INVISIBLE_PATIENT one, and the Binaries of those documents only', () => {
      expect(bundle.type).to.equal('searchset');
      expect(idsIn(bundle, 'Patient', 'match')).to.deep.equal([patient.id]);
      expect(idsIn(bundle, 'DocumentReference', 'match')).to.have.members([docs.note.id, docs.psychiatric.id, docs.masked.id]);
      expect(idsIn(bundle, 'Binary', 'match')).to.have.members([bins.note.id, bins.psychiatric.id, bins.masked.id]);
      // (AuditEvents are left out of this check: the traces of the record name what was written in it.)
      const returned = JSON.stringify((bundle.entry ?? []).filter((e) => e.resource?.resourceType !== 'AuditEvent'));
      for (const hidden of [docs.invisible.id, bins.invisible.id, bins.patientContext.id, otherDoc.id, otherBin.id, other.id]) {
        expect(returned, hidden).not.to.contain(hidden);
      }
      const traces = JSON.stringify((bundle.entry ?? []).filter((e) => e.resource?.resourceType === 'AuditEvent'));
      for (const elsewhere of [otherDoc.id, otherBin.id, other.id]) {
        expect(traces, elsewhere).not.to.contain(elsewhere);
      }
    });

    it('when the patient asks for everything, then each type holds exactly what their search of that type by patient shows (Consent, List, RelatedPerson)', async () => {
      for (const type of ['DocumentReference', 'Consent', 'List', 'RelatedPerson']) {
        expect(idsIn(bundle, type, 'match').sort(), type).to.deep.equal(await searchIds(tokens.patient, type));
      }
      expect(idsIn(bundle, 'Consent', 'match')).to.have.length(2);
    });

    it('when the patient asks for everything, then the AuditEvents of their record come too, and the documents’ author comes along as an include not counted in total', () => {
      const events = matches(bundle).filter((e) => e.resource?.resourceType === 'AuditEvent');
      expect(events.length).to.be.greaterThan(0);
      expect(events.every((e) => JSON.stringify(e.resource).includes(`Patient/${patient.id}`))).to.equal(true);
      expect(idsIn(bundle, 'Practitioner', 'include')).to.include(pros.doctor.practitionerId);
      expect(bundle.total).to.equal(matches(bundle).length);
    });

    it('when the patient asks for everything, then their médecin traitant (Patient.generalPractitioner) comes along as an include', () => {
      expect(idsIn(bundle, 'Practitioner', 'include')).to.include(pros.traitant.practitionerId);
    });

    it('when the patient asked for everything, then one AuditEvent ($everything, outcome 0) names the patient and what was returned', async () => {
      const events: AuditEvent[] = await auditEventsOf(rig, patient.id, requestId);
      expect(events).to.have.length(1);
      const [event] = events;
      expect(event.outcome).to.equal('0');
      expect(event.subtype?.[0]?.code).to.equal('$everything');
      const entities = (event.entity ?? []).map((e) => e.what?.reference);
      expect(entities).to.include.members([`Patient/${patient.id}`, `DocumentReference/${docs.note.id}`, `Binary/${bins.note.id}`]);
      expect(entities).not.to.include(`DocumentReference/${docs.invisible.id}`);
    });
  });

  describe('as professionals', () => {
    it('when an authorised nurse asks for everything, then the matrix and the masking apply: no psychiatric synthesis, no masked document, nor their Binaries', async () => {
      const bundle = await json<Bundle>(await everything(tokens.nurse, '?_count=100'), 200);
      expect(idsIn(bundle, 'Patient', 'match')).to.deep.equal([patient.id]);
      expect(idsIn(bundle, 'DocumentReference', 'match')).to.have.members([docs.note.id, docs.invisible.id]);
      expect(idsIn(bundle, 'Binary', 'match')).to.have.members([bins.note.id, bins.invisible.id]);
      for (const type of ['DocumentReference', 'Consent', 'List']) {
        expect(idsIn(bundle, type, 'match').sort(), type).to.deep.equal(await searchIds(tokens.nurse, type));
      }
      const events = (bundle.entry ?? []).filter((e) => e.resource?.resourceType === 'AuditEvent').map((e) => e.resource as AuditEvent);
      expect(events.every((e) => e.agent?.some((a) => a.who?.reference === `Practitioner/${pros.nurse.practitionerId}`)), 'a professional sees only their own traces').to.equal(true);
    });

    it('when an unauthorised professional asks for everything, then 403 with the reason not-authorised, like their search, and the refusal is traced on the record', async () => {
      const requestId = unique('req-everything-refused-');
      await expectRefused(await everything(tokens.unauthorised, '', { 'x-request-id': requestId }), 'not-authorised');
      await expectRefused(await rigFetch(rig, `DocumentReference?patient=${patient.id}`, tokens.unauthorised), 'not-authorised');
      const [event] = await auditEventsOf(rig, patient.id, requestId);
      expect(event?.outcome).to.equal('4');
      expect(event?.outcomeDesc).to.contain('not-authorised');
    });
  });

  describe('as system clients', () => {
    it("when the host's operator asks for everything, then its scopes alone decide: every document and Binary of the record, nothing of another record", async () => {
      const bundle = await json<Bundle>(await everything(tokens.operator, '?_count=100&_type=DocumentReference,Binary'), 200);
      expect(idsIn(bundle, 'DocumentReference', 'match')).to.have.members(Object.values(docs).map((d) => d.id));
      expect(idsIn(bundle, 'Binary', 'match')).to.have.members(Object.values(bins).map((b) => b.id));
      expect(bundle.total).to.equal(Object.keys(docs).length + Object.keys(bins).length);
    });

    it('when the insurer asks for everything, then it gets the Patient and no consent, list or trace (types its role may not search are left out)', async () => {
      const bundle = await json<Bundle>(await everything(tokens.insurer, '?_count=100'), 200);
      expect(refs(matches(bundle))).to.deep.equal([`Patient/${patient.id}`]);
      expect(bundle.total).to.equal(1);
    });

    it('when a system client without a DMP role asks for everything, then 403 system-not-allowed', async () => {
      await expectRefused(await everything(tokens.roleLess), 'system-not-allowed');
    });
  });

  describe('paging and parameters', () => {
    it('when the patient pages through everything with _count=2, then the next links reach the end, every page has the exact total, and no resource is skipped or repeated', async () => {
      const pages = await allPages(tokens.patient, '?_type=Patient,DocumentReference,Binary,Consent&_count=2');
      const expected = [
        `Patient/${patient.id}`,
        ...[docs.note, docs.psychiatric, docs.masked].map((d) => `DocumentReference/${d.id}`),
        ...[bins.note, bins.psychiatric, bins.masked].map((b) => `Binary/${b.id}`),
        ...(await searchIds(tokens.patient, 'Consent')).map((id) => `Consent/${id}`),
      ];
      expect(pages).to.have.length(Math.ceil(expected.length / 2));
      for (const page of pages) {
        expect(page.total).to.equal(expected.length);
        expect(matches(page).length).to.be.at.most(2);
      }
      const seen = pages.flatMap((p) => refs(matches(p)));
      expect(seen).to.have.length(expected.length);
      expect(seen).to.have.members(expected);
      expect(nextOf(pages[pages.length - 1])).to.equal(undefined);
      expect(pages[0].link?.find((l) => l.relation === 'self')?.url).to.contain('_count=2');
    });

    it('when _count=0 is asked, then the answer is the total only', async () => {
      const bundle = await json<Bundle>(await everything(tokens.patient, '?_type=DocumentReference&_count=0'), 200);
      expect(bundle.total).to.equal(3);
      expect(bundle.entry ?? []).to.have.length(0);
    });

    it('when _since is given, then only what was written at or after it comes back', async () => {
      const since = new Date().toISOString();
      const later = await rigCreate(rig, documentOf(patient.id, { authorId: pros.doctor.practitionerId }));
      const bundle = await json<Bundle>(await everything(tokens.patient, `?_type=DocumentReference&_since=${encodeURIComponent(since)}`), 200);
      expect(idsIn(bundle, 'DocumentReference', 'match')).to.deep.equal([later.id]);
      expect(bundle.total).to.equal(1);
    });

    it('when it is invoked by POST with a Parameters body, then the parameters apply as in GET', async () => {
      const body = { resourceType: 'Parameters', parameter: [{ name: '_type', valueString: 'Patient' }, { name: '_count', valueInteger: 5 }] };
      const bundle = await json<Bundle>(await rigFetch(rig, `Patient/${patient.id}/$everything`, tokens.patient, { method: 'POST', body: JSON.stringify(body) }), 200);
      expect(refs(matches(bundle))).to.deep.equal([`Patient/${patient.id}`]);
    });

    it('when a parameter is wrong (a type outside the record, an unknown parameter, start, a bad _since, a forged cursor), then 400 naming it', async () => {
      for (const [query, expression] of [
        ['?_type=Practitioner', '_type'],
        ['?_type=Observation', '_type'],
        ['?_foo=1', '_foo'],
        ['?start=2024-01-01', 'start'],
        ['?_since=2024-01-01', '_since'],
        ['?_cursor=bm9wZQ', '_cursor'],
      ] as const) {
        const outcome = await json<OperationOutcome>(await everything(tokens.patient, query), 400);
        expect(outcome.issue[0].expression, query).to.deep.equal([expression]);
      }
    });

    it('when the CapabilityStatement is read, then Patient lists the everything operation with its FHIR definition', async () => {
      const statement = await json<{ rest: { resource: { type: string; operation?: { name: string; definition: string }[] }[] }[] }>(await rigFetch(rig, 'metadata', undefined), 200);
      const patientEntry = statement.rest[0].resource.find((r) => r.type === 'Patient');
      expect(patientEntry?.operation?.find((o) => o.name === 'everything')?.definition).to.equal('http://hl7.org/fhir/OperationDefinition/Patient-everything');
    });

    it('when $everything is asked on another type or an unknown patient, then 404', async () => {
      await json<OperationOutcome>(await rigFetch(rig, `DocumentReference/${docs.note.id}/$everything`, tokens.operator), 404);
      await json<OperationOutcome>(await rigFetch(rig, `Patient/${unique('nobody')}/$everything`, tokens.operator), 404);
    });
  });
});
