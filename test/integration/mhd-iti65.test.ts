/**
 * IHE MHD ITI-65 Provide Document Bundle (issue 5), with fhir-kit-client for the submissions that
 * land: the whole submission is checked before anything is stored; each rejection below is a 422
 * naming the element, and nothing of the Bundle is stored.
 */
import { expect } from 'chai';
import type { Binary, Bundle, DocumentReference, List, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { computeInsKey } from '../../src/dmp/ins.js';
import { DOC_CLASS_SYSTEM, INS_NIR_TEST_SYSTEM } from '../../src/dmp/identifiers.js';
import { asBody, expectOutcome, fhirClient, fhirFetch, randomTestIns, testPatient } from '../helpers/fhir.js';
import { provideDocumentBundle, sha1, UNIQUE_ID_SYSTEM } from '../helpers/mhd.js';

type Stored<T> = T & { id: string };

describe('IHE MHD ITI-65 Provide Document Bundle', function () {
  let patient: Stored<Patient>;
  let ins: string;

  before(async () => {
    ins = randomTestIns();
    const client = await fhirClient();
    patient = (await client.create({ resourceType: 'Patient', body: asBody(testPatient({ identifier: [{ system: INS_NIR_TEST_SYSTEM, value: ins }] })) })) as unknown as Stored<Patient>;
  });

  /** How many documents carry this masterIdentifier (nothing stored = 0). */
  async function stored(doc: DocumentReference): Promise<number> {
    const res = await fhirFetch(`DocumentReference?identifier=${encodeURIComponent(`${UNIQUE_ID_SYSTEM}|${doc.masterIdentifier?.value}`)}&status=current,superseded,entered-in-error`);
    return ((await res.json()) as Bundle).total ?? -1;
  }

  async function rejected(bundle: Bundle, expression: string | RegExp): Promise<OperationOutcome> {
    const outcome = await expectOutcome(await fhirFetch('', { method: 'POST', body: JSON.stringify(bundle) }), 422, 'MHD_SUBMISSION_INVALID');
    const expressions = outcome.issue.flatMap((i) => i.expression ?? []);
    expect(expressions.some((e) => (typeof expression === 'string' ? e === expression : expression.test(e))), JSON.stringify(outcome)).to.equal(true);
    return outcome;
  }

  describe('a valid submission', () => {
    let response: Bundle;
    let submitted: ReturnType<typeof provideDocumentBundle>;

    before(async () => {
      submitted = provideDocumentBundle({ reference: `Patient/${patient.id}` }, ['Compte rendu A', 'Compte rendu B, plus long']);
      const client = await fhirClient();
      response = (await client.transaction({ body: asBody(submitted.bundle) })) as unknown as Bundle;
    });

    it('when it is posted with fhir-kit-client, then a transaction-response answers 201 for the List, each DocumentReference and each Binary', () => {
      expect(response.type).to.equal('transaction-response');
      expect(response.entry?.map((e) => e.response?.status?.slice(0, 3))).to.deep.equal(['201', '201', '201', '201', '201']);
    });

    it('when it is stored, then the class of each document is derived from its type (11488-4 → 10), and its Binary is reachable from attachment.url with the right hash', async () => {
      const client = await fhirClient();
      const docRef = response.entry?.[1].response?.location?.split('/_history')[0] as string;
      const doc = (await client.read({ resourceType: 'DocumentReference', id: docRef.split('/')[1] })) as unknown as DocumentReference;
      expect(doc.category?.[0].coding?.[0]).to.deep.include({ system: DOC_CLASS_SYSTEM, code: '10' });
      const binaryId = (doc.content[0].attachment.url as string).split('/Binary/')[1];
      const binary = (await client.read({ resourceType: 'Binary', id: binaryId })) as unknown as Binary;
      expect(sha1(Buffer.from(binary.data ?? '', 'base64'))).to.equal(doc.content[0].attachment.hash);
      expect(binary.securityContext?.reference).to.equal(docRef);
    });

    it('when it is stored, then the SubmissionSet lists the stored documents', async () => {
      const listRef = response.entry?.[0].response?.location?.split('/_history')[0] as string;
      const list = (await (await fhirClient()).read({ resourceType: 'List', id: listRef.split('/')[1] })) as unknown as List;
      const docRefs = [1, 3].map((i) => response.entry?.[i].response?.location?.split('/_history')[0]);
      expect(list.entry?.map((e) => e.item.reference)).to.deep.equal(docRefs);
      expect(list.subject?.reference).to.equal(`Patient/${patient.id}`);
    });
  });

  it('when the subject names the patient by INS only, then it is resolved to their DMP', async () => {
    const { bundle, documents } = provideDocumentBundle({ identifier: { system: INS_NIR_TEST_SYSTEM, value: ins } });
    const response = (await (await fhirClient()).transaction({ body: asBody(bundle) })) as unknown as Bundle;
    expect(response.entry?.[1].response?.status).to.match(/^201/);
    const search = (await (await fhirFetch(`DocumentReference?identifier=${encodeURIComponent(`${UNIQUE_ID_SYSTEM}|${documents[0].masterIdentifier?.value}`)}`)).json()) as Bundle;
    expect((search.entry?.[0].resource as DocumentReference).subject?.reference).to.equal(`Patient/${patient.id}`);
  });

  it('when a hash does not match the bytes, then 422 pointing at attachment.hash and nothing is stored', async () => {
    const { bundle, documents } = provideDocumentBundle({ reference: `Patient/${patient.id}` }, ['A', 'B'], (d, i) => (i === 1 ? { ...d, content: [{ ...d.content[0], attachment: { ...d.content[0].attachment, hash: sha1(Buffer.from('other')) } }] } : d));
    await rejected(bundle, 'Bundle.entry[3].resource.content[0].attachment.hash');
    expect(await stored(documents[0])).to.equal(0);
    expect(await stored(documents[1])).to.equal(0);
  });

  it('when a size does not match the bytes, then 422 pointing at attachment.size and nothing is stored', async () => {
    const { bundle, documents } = provideDocumentBundle({ reference: `Patient/${patient.id}` }, ['twelve bytes'], (d) => ({ ...d, content: [{ ...d.content[0], attachment: { ...d.content[0].attachment, size: 13 } }] }));
    const outcome = await rejected(bundle, 'Bundle.entry[1].resource.content[0].attachment.size');
    expect(outcome.issue[0].details?.text).to.contain('12 bytes');
    expect(await stored(documents[0])).to.equal(0);
  });

  it('when the class does not match the type (a consultation report sent as a prescription), then 422 pointing at category and nothing is stored', async () => {
    const { bundle, documents } = provideDocumentBundle({ reference: `Patient/${patient.id}` }, undefined, (d) => ({ ...d, category: [{ coding: [{ system: DOC_CLASS_SYSTEM, code: '42' }] }] }));
    const outcome = await rejected(bundle, 'Bundle.entry[1].resource.category');
    expect(outcome.issue[0].details?.text).to.contain('here 10');
    expect(await stored(documents[0])).to.equal(0);
  });

  it('when a document has no author, then 422 pointing at author and nothing is stored', async () => {
    const { bundle, documents } = provideDocumentBundle({ reference: `Patient/${patient.id}` }, undefined, ({ author: _a, ...d }) => d);
    await rejected(bundle, 'Bundle.entry[1].resource.author');
    expect(await stored(documents[0])).to.equal(0);
  });

  it('when the patient\'s INS has no DMP, then 422 (not found) and nothing is stored', async () => {
    const { bundle, documents } = provideDocumentBundle({ identifier: { system: INS_NIR_TEST_SYSTEM, value: randomTestIns() } });
    const outcome = await rejected(bundle, 'Bundle.entry[1].resource.subject.identifier');
    expect(outcome.issue.map((i) => i.details?.text).join(' ')).to.contain('No DMP exists for INS');
    expect(await stored(documents[0])).to.equal(0);
  });

  it('when the patient\'s INS has a wrong key, then 422 naming the key and nothing is stored', async () => {
    const body13 = ins.slice(0, 13);
    const wrongKey = computeInsKey(body13) === '01' ? '02' : '01';
    const { bundle, documents } = provideDocumentBundle({ identifier: { system: INS_NIR_TEST_SYSTEM, value: `${body13}${wrongKey}` } });
    const outcome = await rejected(bundle, 'Bundle.entry[1].resource.subject.identifier');
    expect(outcome.issue.map((i) => i.details?.text).join(' ')).to.contain('check key');
    expect(await stored(documents[0])).to.equal(0);
  });

  it('when the type is not a DMP document type, or metadata the DMP requires are missing, then each one is named', async () => {
    const { bundle } = provideDocumentBundle({ reference: `Patient/${patient.id}` }, undefined, ({ custodian: _c, context: _x, ...d }) => ({ ...d, type: { coding: [{ system: 'urn:local', code: 'CR' }] } }));
    const outcome = await rejected(bundle, 'Bundle.entry[1].resource.type');
    const expressions = outcome.issue.flatMap((i) => i.expression ?? []);
    expect(expressions).to.include.members(['Bundle.entry[1].resource.custodian', 'Bundle.entry[1].resource.context.period.start', 'Bundle.entry[1].resource.context.facilityType', 'Bundle.entry[1].resource.context.practiceSetting']);
  });

  it('when the SubmissionSet does not list a document of the Bundle, then 422 pointing at List.entry', async () => {
    const submitted = provideDocumentBundle({ reference: `Patient/${patient.id}` }, ['A', 'B']);
    const list = submitted.bundle.entry?.[0].resource as List;
    list.entry = list.entry?.slice(0, 1);
    await rejected(submitted.bundle, 'Bundle.entry[0].resource.entry');
    expect(await stored(submitted.documents[0])).to.equal(0);
  });

  it('when a document is checked with $validate against the MHD comprehensive profile, then a complete one passes and one without custodian is 422 naming it; another profile is 400', async () => {
    const profile = 'https://dmp-fhir-server.org/fhir/StructureDefinition/dmp-comprehensive-document-reference';
    const { documents } = provideDocumentBundle({ reference: `Patient/${patient.id}` });
    const complete = { ...documents[0], content: [{ ...documents[0].content[0], attachment: { ...documents[0].content[0].attachment, url: 'https://example.org/fhir/Binary/x' } }] };
    const ok = await fhirFetch(`DocumentReference/$validate?profile=${encodeURIComponent(profile)}`, { method: 'POST', body: JSON.stringify(complete) });
    expect(ok.status, await ok.clone().text()).to.equal(200);
    const { custodian: _c, ...incomplete } = complete;
    const parameters = { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: incomplete }, { name: 'profile', valueUri: profile }] };
    const outcome = await expectOutcome(await fhirFetch('DocumentReference/$validate', { method: 'POST', body: JSON.stringify(parameters) }), 422, 'PROFILE_VIOLATION');
    expect(outcome.issue.flatMap((i) => i.expression ?? []).join(' ')).to.contain('custodian');
    await expectOutcome(await fhirFetch('DocumentReference/$validate?profile=https://example.org/other', { method: 'POST', body: JSON.stringify(complete) }), 400, 'BAD_REQUEST');
  });

  it('when a plain DocumentReference create says a class other than its type\'s, then 422 DOCUMENT_CLASS_MISMATCH; without a class it gets the derived one', async () => {
    const { documents } = provideDocumentBundle({ reference: `Patient/${patient.id}` });
    const { content: _c, ...rest } = documents[0];
    const doc = { ...rest, content: [{ attachment: { contentType: 'text/plain', title: 'x' } }] } as DocumentReference;
    await expectOutcome(await fhirFetch('DocumentReference', { method: 'POST', body: JSON.stringify({ ...doc, category: [{ coding: [{ system: DOC_CLASS_SYSTEM, code: '60' }] }] }) }), 422, 'DOCUMENT_CLASS_MISMATCH');
    const created = (await (await fhirFetch('DocumentReference', { method: 'POST', body: JSON.stringify(doc) })).json()) as DocumentReference;
    expect(created.category?.[0].coding?.[0].code).to.equal('10');
  });
});
