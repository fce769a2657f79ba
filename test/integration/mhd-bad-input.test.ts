/**
 * Wrong MHD input is a client's mistake: each of these gets a 4xx OperationOutcome, never a 500,
 * and nothing of it is stored.
 */
import { expect } from 'chai';
import type { Bundle, DocumentReference, List, OperationOutcome } from '@medplum/fhirtypes';
import { asBody, fhirClient, fhirFetch, testPatient } from '../helpers/fhir.js';
import { mhdDocument, provideDocumentBundle, UNIQUE_ID_SYSTEM } from '../helpers/mhd.js';

describe('IHE MHD: wrong input never breaks the server', function () {
  let patientId: string;

  before(async () => {
    patientId = ((await (await fhirClient()).create({ resourceType: 'Patient', body: asBody(testPatient()) })) as unknown as { id: string }).id;
  });

  const subject = (): { reference: string } => ({ reference: `Patient/${patientId}` });
  const edited = (edit: (doc: DocumentReference) => unknown): Bundle => provideDocumentBundle(subject(), ['x'], (d) => edit(d) as DocumentReference).bundle;
  const withList = (edit: (list: List) => unknown): Bundle => {
    const bundle = provideDocumentBundle(subject(), ['x']).bundle;
    (bundle.entry as NonNullable<Bundle['entry']>)[0].resource = edit(bundle.entry?.[0].resource as List) as List;
    return bundle;
  };

  const cases: [string, () => unknown][] = [
    ['a document without content', () => edited(({ content: _c, ...d }) => d)],
    ['a content without attachment', () => edited((d) => ({ ...d, content: [{ format: d.content[0].format }] }))],
    ['a subject with neither reference nor identifier', () => edited((d) => ({ ...d, subject: {} }))],
    ['a conditional subject without a value', () => edited((d) => ({ ...d, subject: { reference: 'Patient?identifier=' } }))],
    ['a subject that is a Practitioner', () => edited((d) => ({ ...d, subject: { reference: 'Practitioner/nobody' } }))],
    ['an attachment url naming an unknown Binary', () => edited((d) => ({ ...d, content: [{ ...d.content[0], attachment: { ...d.content[0].attachment, url: 'Binary/does-not-exist' } }] }))],
    ['an attachment url naming the List', () => edited((d) => ({ ...d, content: [{ ...d.content[0], attachment: { ...d.content[0].attachment, url: 'urn:uuid:not-in-bundle' } }] }))],
    ['a replacement of a document that does not exist', () => edited((d) => ({ ...d, relatesTo: [{ code: 'replaces', target: { reference: 'DocumentReference/nope' } }] }))],
    ['a replacement target that is not a reference', () => edited((d) => ({ ...d, relatesTo: [{ code: 'replaces', target: {} }] }))],
    ['a SubmissionSet without entries', () => withList(({ entry: _e, ...l }) => l)],
    ['a SubmissionSet whose subject is another kind of reference', () => withList((l) => ({ ...l, subject: { reference: 'Group/x' } }))],
    ['a negative size and a hash that is not base64', () => edited((d) => ({ ...d, content: [{ ...d.content[0], attachment: { ...d.content[0].attachment, size: -1, hash: 'not base64!' } }] }))],
  ];

  for (const [label, body] of cases) {
    it(`when an ITI-65 Bundle has ${label}, then 4xx with an OperationOutcome and nothing stored`, async () => {
      const bundle = body() as Bundle;
      const res = await fhirFetch('', { method: 'POST', body: JSON.stringify(bundle) });
      const text = await res.text();
      expect(res.status, text).to.be.within(400, 499);
      expect((JSON.parse(text) as OperationOutcome).resourceType).to.equal('OperationOutcome');
      const doc = bundle.entry?.find((e) => e.resource?.resourceType === 'DocumentReference')?.resource as DocumentReference | undefined;
      if (doc?.masterIdentifier?.value) {
        const found = (await (await fhirFetch(`DocumentReference?identifier=${encodeURIComponent(`${UNIQUE_ID_SYSTEM}|${doc.masterIdentifier.value}`)}&status=current,superseded`)).json()) as Bundle;
        expect(found.total).to.equal(0);
      }
    });
  }

  it('when an ITI-105 publication has inline data that is not base64 text, then 4xx', async () => {
    const doc = mhdDocument(subject(), Buffer.from('abc'));
    const res = await fhirFetch('DocumentReference', { method: 'POST', body: JSON.stringify({ ...doc, content: [{ ...doc.content[0], attachment: { ...doc.content[0].attachment, data: 12 } }] }) });
    expect(res.status, await res.text()).to.be.within(400, 499);
  });

  it('when $close gets a body that is not Parameters, or an unknown Patient, then 4xx', async () => {
    expect((await fhirFetch(`Patient/${patientId}/$close`, { method: 'POST', body: '[1,2]' })).status).to.be.within(400, 499);
    expect((await fhirFetch(`Patient/${patientId}/$close`, { method: 'POST', body: JSON.stringify({ resourceType: 'Patient' }) })).status).to.be.within(400, 499);
    expect((await fhirFetch('Patient/does-not-exist/$close', { method: 'POST' })).status).to.equal(404);
    expect((await fhirFetch(`DocumentReference/${patientId}/$close`, { method: 'POST' })).status).to.be.within(400, 499);
  });
});
