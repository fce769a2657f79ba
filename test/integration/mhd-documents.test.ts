/**
 * IHE MHD / PDSm document flows beyond ITI-65 (issue 5), with fhir-kit-client where a client library
 * fits: ITI-105 Simplified Publish, replacement chains, deletion as entered-in-error, ITI-67 Find
 * Document References (PDSm parameters), ITI-66 Find Lists, ITI-68 Retrieve Document. The author and
 * non-author cases use real SMART tokens of professionals.
 */
import { expect } from 'chai';
import type { Bundle, DocumentReference, List, Patient, Practitioner } from '@medplum/fhirtypes';
import { INS_NIR_TEST_SYSTEM, IS_ARCHIVED_EXTENSION_URL, MHD_DESIGNATION_TYPE_EXTENSION_URL, MHD_LIST_TYPES_SYSTEM, MHD_SOURCE_ID_EXTENSION_URL } from '../../src/dmp/identifiers.js';
import { expectOutcome, fhirClient, unique } from '../helpers/fhir.js';
import { authorisation, dmpPatient, expectRefused, json, practitionerRef, professional, professionalToken, type RigProfessional } from '../helpers/dmp-rig.js';
import { mhdDocument, provideDocumentBundle, sha1 } from '../helpers/mhd.js';
import { rigFetch, rigSystemToken, startSmartRig, type SmartRig } from '../helpers/smart-flow.js';

type Doc = DocumentReference & { id: string };

describe('IHE MHD document flows: ITI-105, replacement, deletion, ITI-67, ITI-66, ITI-68', function () {
  let rig: SmartRig;
  let patient: Patient & { id: string; ins: string };
  let author: RigProfessional;
  let other: RigProfessional;
  let authorToken: string;
  let otherToken: string;
  let operator: string;
  let authorPractitioner: Practitioner;

  const get = (token: string, path: string, headers: Record<string, string> = {}): Promise<Response> => rigFetch(rig, path, token, { headers });
  const send = (token: string, method: 'POST' | 'PUT' | 'DELETE' | 'PATCH', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    rigFetch(rig, path, token, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const subject = (): { reference: string } => ({ reference: `Patient/${patient.id}` });
  /** An ITI-105 publication by `token`: the document with its content inline. */
  const publish = async (token: string, text: string, edit: (d: DocumentReference) => DocumentReference = (d) => d): Promise<Doc> =>
    json<Doc>(await send(token, 'POST', 'DocumentReference', edit(mhdDocument(subject(), Buffer.from(text), { authorRef: `Practitioner/${author.practitionerId}` }))), 201);
  const ids = (bundle: Bundle): string[] => (bundle.entry ?? []).filter((e) => e.search?.mode !== 'outcome').map((e) => e.resource?.id as string);

  before(async function () {
    this.timeout(120_000);
    rig = await startSmartRig();
    patient = await dmpPatient(rig);
    author = await professional(rig, { profession: '10', speciality: 'SM54' });
    other = await professional(rig, { profession: '10', speciality: 'SM54' });
    operator = await rigSystemToken(rig);
    for (const who of [author, other]) {
      await json(await send(operator, 'POST', 'Consent', authorisation(patient.id, practitionerRef(who.practitionerId))), 201);
    }
    authorToken = await professionalToken(rig, author, patient.id);
    otherToken = await professionalToken(rig, other, patient.id);
    authorPractitioner = await json<Practitioner>(await get(operator, `Practitioner/${author.practitionerId}`), 200);
  });

  after(async () => {
    await rig?.close();
  });

  describe('ITI-105 Simplified Publish', () => {
    it('when a professional publishes a document with its content inline, then the content becomes a Binary of the server that attachment.url points to, with size and SHA-1 hash', async () => {
      const text = `Compte rendu ${unique('iti105')}`;
      const doc = await publish(authorToken, text);
      const attachment = doc.content[0].attachment;
      expect(attachment.data).to.equal(undefined);
      expect(attachment.url).to.match(new RegExp(`^${rig.fhirBase}/Binary/[A-Za-z0-9-]+$`));
      expect(attachment.size).to.equal(Buffer.byteLength(text));
      expect(attachment.hash).to.equal(sha1(Buffer.from(text)));
      expect(doc.category?.[0].coding?.[0].code).to.equal('10');
      const raw = await fetch(attachment.url as string, { headers: { authorization: `Bearer ${authorToken}`, accept: 'text/plain' } });
      expect(raw.status).to.equal(200);
      expect(raw.headers.get('content-type')).to.contain('text/plain');
      expect(raw.headers.get('etag')).to.match(/^W\/"\d+"$/);
      expect(await raw.text()).to.equal(text);
    });

    it('when the declared hash does not match the inline content, or metadata are missing, then 422 and nothing is stored', async () => {
      const doc = mhdDocument(subject(), Buffer.from('abc'), { authorRef: `Practitioner/${author.practitionerId}` });
      doc.content[0].attachment.hash = sha1(Buffer.from('abd'));
      const outcome = await expectOutcome(await send(authorToken, 'POST', 'DocumentReference', doc), 422, 'MHD_SUBMISSION_INVALID');
      expect(outcome.issue.flatMap((i) => i.expression ?? [])).to.include('DocumentReference.content[0].attachment.hash');
      const { custodian: _c, ...noCustodian } = mhdDocument(subject(), Buffer.from('abc'));
      const missing = await expectOutcome(await send(authorToken, 'POST', 'DocumentReference', noCustodian), 422, 'MHD_SUBMISSION_INVALID');
      expect(missing.issue.flatMap((i) => i.expression ?? [])).to.include('DocumentReference.custodian');
      const found = await json<Bundle>(await get(operator, `DocumentReference?identifier=${encodeURIComponent(`urn:ietf:rfc:3986|${doc.masterIdentifier?.value}`)}`), 200);
      expect(found.total).to.equal(0);
    });
  });

  describe('replacement', () => {
    it('when a document replaces another (relatesTo replaces), then the old one is superseded in the same write, searches find the new one, and relatesto follows the chain', async () => {
      const first = await publish(authorToken, 'Version 1');
      const second = await publish(authorToken, 'Version 2', (d) => ({ ...d, relatesTo: [{ code: 'replaces', target: { reference: `DocumentReference/${first.id}` } }] }));
      const third = await publish(authorToken, 'Version 3', (d) => ({ ...d, relatesTo: [{ code: 'replaces', target: { reference: `DocumentReference/${second.id}` } }] }));
      expect((await json<Doc>(await get(authorToken, `DocumentReference/${first.id}`), 200)).status).to.equal('superseded');
      expect((await json<Doc>(await get(authorToken, `DocumentReference/${second.id}`), 200)).status).to.equal('superseded');
      const current = ids(await json<Bundle>(await get(authorToken, `DocumentReference?patient=${patient.id}&_count=100`), 200));
      expect(current).to.include(third.id);
      expect(current).to.not.include.members([first.id]);
      expect(current).to.not.include(second.id);
      const next = ids(await json<Bundle>(await get(authorToken, `DocumentReference?patient=${patient.id}&relatesto=DocumentReference/${first.id}&status=current,superseded`), 200));
      expect(next).to.deep.equal([second.id]);
      const superseded = ids(await json<Bundle>(await get(authorToken, `DocumentReference?patient=${patient.id}&status=superseded&_count=100`), 200));
      expect(superseded).to.include.members([first.id, second.id]);
    });

    it('when a superseded document is replaced again, then 422 REPLACEMENT_INVALID and nothing is stored', async () => {
      const first = await publish(authorToken, 'A');
      await publish(authorToken, 'B', (d) => ({ ...d, relatesTo: [{ code: 'replaces', target: { reference: `DocumentReference/${first.id}` } }] }));
      const again = mhdDocument(subject(), Buffer.from('C'), { authorRef: `Practitioner/${author.practitionerId}` });
      await expectOutcome(await send(authorToken, 'POST', 'DocumentReference', { ...again, relatesTo: [{ code: 'replaces', target: { reference: `DocumentReference/${first.id}` } }] }), 422, 'REPLACEMENT_INVALID');
      const found = await json<Bundle>(await get(operator, `DocumentReference?identifier=${encodeURIComponent(`urn:ietf:rfc:3986|${again.masterIdentifier?.value}`)}`), 200);
      expect(found.total).to.equal(0);
    });

    it('when a professional who is not the author replaces a document, then 403 not-author and the old one stays current', async () => {
      const first = await publish(authorToken, 'Original');
      await expectRefused(await send(otherToken, 'POST', 'DocumentReference', { ...mhdDocument(subject(), Buffer.from('Hijack')), relatesTo: [{ code: 'replaces', target: { reference: `DocumentReference/${first.id}` } }] }), 'not-author');
      expect((await json<Doc>(await get(authorToken, `DocumentReference/${first.id}`), 200)).status).to.equal('current');
    });
  });

  describe('deletion (kept as entered-in-error, retrievable by no one)', () => {
    it('when a professional who is not the author deletes a document, then 403 not-author and it stays', async () => {
      const doc = await publish(authorToken, 'Keep me');
      await expectRefused(await send(otherToken, 'DELETE', `DocumentReference/${doc.id}`), 'not-author');
      expect((await get(otherToken, `DocumentReference/${doc.id}`)).status).to.equal(200);
    });

    it('when the author deletes a document, then it leaves every read and search, for everyone, with its content, and the audit trail stays', async () => {
      const doc = await publish(authorToken, 'Delete me');
      const binaryPath = (doc.content[0].attachment.url as string).slice(rig.fhirBase.length + 1);
      expect((await send(authorToken, 'DELETE', `DocumentReference/${doc.id}`)).status).to.equal(200);
      for (const token of [authorToken, operator]) {
        expect((await get(token, `DocumentReference/${doc.id}`)).status).to.equal(410);
        expect((await get(token, `DocumentReference/${doc.id}/_history/1`)).status).to.equal(410);
        expect((await get(token, `DocumentReference/${doc.id}/_history`)).status).to.equal(410);
        expect((await get(token, binaryPath, { accept: 'text/plain' })).status, 'its content').to.be.oneOf([404, 410]);
        for (const status of ['', '&status=entered-in-error', '&status=current,superseded,entered-in-error']) {
          expect(ids(await json<Bundle>(await get(token, `DocumentReference?patient=${patient.id}${status}&_count=200`), 200))).to.not.include(doc.id);
        }
      }
      const history = await json<Bundle>(await get(operator, 'DocumentReference/_history?_count=1000'), 200);
      expect((history.entry ?? []).map((e) => e.resource?.id ?? e.request?.url?.split('/')[1])).to.not.include(doc.id);
      const traces = await json<Bundle>(await get(operator, `AuditEvent?entity=DocumentReference/${doc.id}`), 200);
      expect(traces.total, 'the publication, reads and deletion are still traced').to.be.greaterThan(1);
    });
  });

  describe('ITI-67 Find Document References, ITI-66 Find Lists', () => {
    let listed: Doc;
    let archived: Doc;
    let listId: string;

    before(async () => {
      listed = await publish(authorToken, 'Recherche', (d) => ({ ...d, context: { ...d.context, period: { start: '2026-01-10T09:00:00+01:00', end: '2026-01-10T10:00:00+01:00' } } }));
      archived = await publish(authorToken, 'Archivé');
      await json(await send(authorToken, 'PATCH', `DocumentReference/${archived.id}`, [{ op: 'add', path: '/extension', value: [{ url: IS_ARCHIVED_EXTENSION_URL, valueBoolean: true }] }], { 'content-type': 'application/json-patch+json' }), 200);
      const submitted = provideDocumentBundle(subject(), ['Lot'], (d) => ({ ...d, author: [{ reference: `Practitioner/${author.practitionerId}` }] }));
      const list = submitted.bundle.entry?.[0].resource as List;
      list.extension = [...(list.extension ?? []), { url: MHD_DESIGNATION_TYPE_EXTENSION_URL, valueCodeableConcept: { coding: [{ system: 'urn:oid:1.2.250.1.213.1.1.4.12', code: '04' }] } }];
      const response = await json<Bundle>(await send(authorToken, 'POST', '', submitted.bundle), 200);
      listId = response.entry?.[0].response?.location?.split('/')[1] as string;
    });

    it('when an MHD client searches by patient.identifier (INS) with fhir-kit-client, then the patient\'s current documents come back', async () => {
      const client = await fhirClient();
      (client as unknown as { bearerToken: string }).bearerToken = authorToken;
      (client as unknown as { baseUrl: string }).baseUrl = rig.fhirBase;
      const bundle = (await client.search({ resourceType: 'DocumentReference', searchParams: { 'patient.identifier': `${INS_NIR_TEST_SYSTEM}|${patient.ins}`, status: 'current', _count: '200' } })) as unknown as Bundle;
      expect(ids(bundle)).to.include.members([listed.id, archived.id]);
    });

    it('when searching by author.given and author.family, then the documents of that author match', async () => {
      const family = authorPractitioner.name?.[0]?.family as string;
      const given = authorPractitioner.name?.[0]?.given?.[0] as string;
      const byFamily = ids(await json<Bundle>(await get(authorToken, `DocumentReference?patient=${patient.id}&author.family=${encodeURIComponent(family)}&_count=200`), 200));
      expect(byFamily).to.include(listed.id);
      const byGiven = ids(await json<Bundle>(await get(authorToken, `DocumentReference?patient=${patient.id}&author.given=${encodeURIComponent(given)}&author.family=${encodeURIComponent(family)}&_count=200`), 200));
      expect(byGiven).to.include(listed.id);
      const nobody = ids(await json<Bundle>(await get(authorToken, `DocumentReference?patient=${patient.id}&author.family=Nobody${unique('x')}`), 200));
      expect(nobody).to.deep.equal([]);
    });

    it('when searching period-start / period-end and period, then the act\'s dates select the document', async () => {
      const inJanuary = ids(await json<Bundle>(await get(authorToken, `DocumentReference?patient=${patient.id}&period-start=ge2026-01-10&period-start=lt2026-01-11`), 200));
      expect(inJanuary).to.deep.equal([listed.id]);
      const ended = ids(await json<Bundle>(await get(authorToken, `DocumentReference?patient=${patient.id}&period-end=le2026-01-10T11:00:00%2B01:00`), 200));
      expect(ended).to.deep.equal([listed.id]);
    });

    it("when searching creation (IHE MHD), then the content's creation date selects the document", async () => {
      const created = listed.content[0].attachment.creation as string;
      const found = ids(await json<Bundle>(await get(authorToken, `DocumentReference?patient=${patient.id}&creation=${encodeURIComponent(created)}`), 200));
      expect(found).to.include(listed.id);
      expect(ids(await json<Bundle>(await get(authorToken, `DocumentReference?patient=${patient.id}&creation=lt2000-01-01`), 200))).to.deep.equal([]);
    });

    it('when searching isArchived, then the archived document matches true and not false', async () => {
      expect(ids(await json<Bundle>(await get(authorToken, `DocumentReference?patient=${patient.id}&isArchived=true`), 200))).to.deep.equal([archived.id]);
      expect(ids(await json<Bundle>(await get(authorToken, `DocumentReference?patient=${patient.id}&isArchived=false&_count=200`), 200))).to.not.include(archived.id);
    });

    it('when an MHD client finds the patient\'s SubmissionSets (ITI-66), then the list comes back, also by designationType and sourceId', async () => {
      const base = `List?patient.identifier=${encodeURIComponent(`${INS_NIR_TEST_SYSTEM}|${patient.ins}`)}&code=${encodeURIComponent(`${MHD_LIST_TYPES_SYSTEM}|submissionset`)}&status=current`;
      expect(ids(await json<Bundle>(await get(authorToken, base), 200))).to.include(listId);
      expect(ids(await json<Bundle>(await get(authorToken, `${base}&designationType=04`), 200))).to.deep.equal([listId]);
      expect(ids(await json<Bundle>(await get(authorToken, `${base}&sourceId=${encodeURIComponent('urn:ietf:rfc:3986|urn:oid:1.2.250.1.999.1')}`), 200))).to.include(listId);
      const list = await json<List>(await get(authorToken, `List/${listId}`), 200);
      expect(list.extension?.find((e) => e.url === MHD_SOURCE_ID_EXTENSION_URL)?.valueIdentifier?.value).to.equal('urn:oid:1.2.250.1.999.1');
    });
  });
});

