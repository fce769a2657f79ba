/**
 * PATCH on DocumentReference metadata (DMP TD3.3) over HTTP with the test operator's token:
 * JSON Patch and FHIRPath Patch, what may change, versions, conditional patch, If-Match, audit.
 * The DMP rules with real SMART tokens are in patch-rules.test.ts.
 */
import { expect } from 'chai';
import type { AuditEvent, Bundle, CodeableConcept, DocumentReference, Parameters, ParametersParameter, Patient } from '@medplum/fhirtypes';
import { CONFIDENTIALITY_SYSTEM, IS_ARCHIVED_EXTENSION_URL, VISIBILITY_SYSTEM } from '../../src/dmp/identifiers.js';
import { expectOutcome, fhirFetch, testPatient, unique } from '../helpers/fhir.js';
import { CRUD_TEST_SYSTEM, testDocumentReference } from '../helpers/resources.js';

type Doc = DocumentReference & { id: string };

const JSON_PATCH = 'application/json-patch+json';
const N: CodeableConcept = { coding: [{ system: CONFIDENTIALITY_SYSTEM, code: 'N' }] };
const flag = (code: string): CodeableConcept => ({ coding: [{ system: VISIBILITY_SYSTEM, code }] });
const labelCodes = (doc: DocumentReference): string[] => (doc.securityLabel ?? []).map((l) => l.coding?.[0]?.code as string);

async function json<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text.slice(0, 800)).to.equal(status);
  return JSON.parse(text) as T;
}

function jsonPatch(path: string, operations: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fhirFetch(path, { method: 'PATCH', headers: { 'content-type': JSON_PATCH, ...headers }, body: JSON.stringify(operations) });
}

function fhirPathPatch(path: string, ...operations: ParametersParameter[][]): Promise<Response> {
  const body: Parameters = { resourceType: 'Parameters', parameter: operations.map((part) => ({ name: 'operation', part })) };
  return fhirFetch(path, { method: 'PATCH', body: JSON.stringify(body) });
}

/** The parts of one FHIRPath Patch operation. */
function op(type: string, path: string, extra: ParametersParameter[] = []): ParametersParameter[] {
  return [{ name: 'type', valueCode: type }, { name: 'path', valueString: path }, ...extra];
}

describe('PATCH DocumentReference (DMP TD3.3 metadata update)', () => {
  let patient: Patient & { id: string };

  before(async () => {
    patient = await json<Patient & { id: string }>(await fhirFetch('Patient', { method: 'POST', body: JSON.stringify(testPatient()) }), 201);
  });

  async function newDoc(labels: CodeableConcept[] = [N, flag('INVISIBLE_PATIENT')], overrides: Partial<DocumentReference> = {}): Promise<Doc> {
    const doc = { ...testDocumentReference(patient.id), securityLabel: labels, ...overrides };
    return json<Doc>(await fhirFetch('DocumentReference', { method: 'POST', body: JSON.stringify(doc) }), 201);
  }

  async function read(id: string): Promise<Doc> {
    return json<Doc>(await fhirFetch(`DocumentReference/${id}`), 200);
  }

  describe('JSON Patch (application/json-patch+json)', () => {
    it('when MASQUE_PS is added, then 200 and the document keeps its N confidentiality and INVISIBLE_PATIENT labels', async () => {
      const doc = await newDoc();
      const res = await jsonPatch(`DocumentReference/${doc.id}`, [{ op: 'add', path: '/securityLabel/-', value: flag('MASQUE_PS') }]);
      expect(res.headers.get('etag')).to.equal('W/"2"');
      const patched = await json<Doc>(res, 200);
      expect(labelCodes(patched)).to.deep.equal(['N', 'INVISIBLE_PATIENT', 'MASQUE_PS']);
      expect(labelCodes(await read(doc.id))).to.deep.equal(['N', 'INVISIBLE_PATIENT', 'MASQUE_PS']);
    });

    it('when one flag is removed (after a test of its code), then 200 and every other label stays', async () => {
      const doc = await newDoc([N, flag('INVISIBLE_PATIENT'), flag('MASQUE_PS')]);
      const patched = await json<Doc>(
        await jsonPatch(`DocumentReference/${doc.id}`, [
          { op: 'test', path: '/securityLabel/1/coding/0/code', value: 'INVISIBLE_PATIENT' },
          { op: 'remove', path: '/securityLabel/1' },
        ]),
        200
      );
      expect(labelCodes(patched)).to.deep.equal(['N', 'MASQUE_PS']);
    });

    it('when the whole securityLabel array is replaced by the same labels plus one flag, then 200 (the result counts, not the operations)', async () => {
      const doc = await newDoc();
      const patched = await json<Doc>(await jsonPatch(`DocumentReference/${doc.id}`, [{ op: 'replace', path: '/securityLabel', value: [flag('MASQUE_PS'), N, flag('INVISIBLE_PATIENT')] }]), 200);
      expect(labelCodes(patched)).to.have.members(['N', 'INVISIBLE_PATIENT', 'MASQUE_PS']);
    });

    it('when a replace of /securityLabel/0 would drop the N label (the PDSm4DMP example), then 405 PATCH_NOT_ALLOWED and nothing changes', async () => {
      const doc = await newDoc();
      const outcome = await expectOutcome(await jsonPatch(`DocumentReference/${doc.id}`, [{ op: 'replace', path: '/securityLabel/0', value: flag('MASQUE_PS') }]), 405, 'PATCH_NOT_ALLOWED');
      expect(outcome.issue[0].expression).to.deep.equal(['DocumentReference.securityLabel']);
      const after = await read(doc.id);
      expect(after.meta?.versionId).to.equal('1');
      expect(labelCodes(after)).to.deep.equal(['N', 'INVISIBLE_PATIENT']);
    });

    it('when the array is replaced dropping a flag while adding another, then 405 PATCH_NOT_ALLOWED', async () => {
      const doc = await newDoc();
      await expectOutcome(await jsonPatch(`DocumentReference/${doc.id}`, [{ op: 'replace', path: '/securityLabel', value: [N, flag('MASQUE_PS')] }]), 405, 'PATCH_NOT_ALLOWED');
    });

    it('when a label that is not a visibility flag is added (confidentiality R), then 405 PATCH_NOT_ALLOWED', async () => {
      const doc = await newDoc();
      const r = { coding: [{ system: CONFIDENTIALITY_SYSTEM, code: 'R' }] };
      await expectOutcome(await jsonPatch(`DocumentReference/${doc.id}`, [{ op: 'add', path: '/securityLabel/-', value: r }]), 405, 'PATCH_NOT_ALLOWED');
    });

    it('when a flag the document already carries is added again, then 405 PATCH_NOT_ALLOWED', async () => {
      const doc = await newDoc();
      await expectOutcome(await jsonPatch(`DocumentReference/${doc.id}`, [{ op: 'add', path: '/securityLabel/-', value: flag('INVISIBLE_PATIENT') }]), 405, 'PATCH_NOT_ALLOWED');
    });

    it('when status goes from current to superseded, then 200 with the new status', async () => {
      const doc = await newDoc();
      const patched = await json<Doc>(await jsonPatch(`DocumentReference/${doc.id}`, [{ op: 'replace', path: '/status', value: 'superseded' }]), 200);
      expect(patched.status).to.equal('superseded');
    });

    it('when the isArchived extension is set, then 200 and the document carries it', async () => {
      const doc = await newDoc();
      const patched = await json<Doc>(await jsonPatch(`DocumentReference/${doc.id}`, [{ op: 'add', path: '/extension', value: [{ url: IS_ARCHIVED_EXTENSION_URL, valueBoolean: true }] }]), 200);
      expect(patched.extension).to.deep.equal([{ url: IS_ARCHIVED_EXTENSION_URL, valueBoolean: true }]);
    });

    it('when another extension is added, then 405 PATCH_NOT_ALLOWED naming DocumentReference.extension', async () => {
      const doc = await newDoc();
      const outcome = await expectOutcome(
        await jsonPatch(`DocumentReference/${doc.id}`, [{ op: 'add', path: '/extension', value: [{ url: 'urn:test:other', valueString: 'x' }] }]),
        405,
        'PATCH_NOT_ALLOWED'
      );
      expect(outcome.issue[0].expression).to.deep.equal(['DocumentReference.extension']);
    });

    it('when a patch makes a new version, then versionId is +1, history lists both and version 1 keeps the old labels', async () => {
      const doc = await newDoc();
      const patched = await json<Doc>(await jsonPatch(`DocumentReference/${doc.id}`, [{ op: 'add', path: '/securityLabel/-', value: flag('MASQUE_PS') }]), 200);
      expect(patched.meta?.versionId).to.equal('2');
      const history = await json<Bundle>(await fhirFetch(`DocumentReference/${doc.id}/_history`), 200);
      expect(history.entry?.map((e) => e.resource?.meta?.versionId)).to.have.members(['1', '2']);
      expect(labelCodes(await json<Doc>(await fhirFetch(`DocumentReference/${doc.id}/_history/1`), 200))).to.deep.equal(['N', 'INVISIBLE_PATIENT']);
    });

    it('when the patch changes subject, then 405 PATCH_NOT_ALLOWED naming DocumentReference.subject and nothing changes', async () => {
      const doc = await newDoc();
      const other = await json<Patient & { id: string }>(await fhirFetch('Patient', { method: 'POST', body: JSON.stringify(testPatient()) }), 201);
      const outcome = await expectOutcome(await jsonPatch(`DocumentReference/${doc.id}`, [{ op: 'replace', path: '/subject/reference', value: `Patient/${other.id}` }]), 405, 'PATCH_NOT_ALLOWED');
      expect(outcome.issue[0].expression).to.deep.equal(['DocumentReference.subject']);
      const after = await read(doc.id);
      expect(after.subject?.reference).to.equal(`Patient/${patient.id}`);
      expect(after.meta?.versionId).to.equal('1');
    });

    it('when the patch changes type together with an allowed status change, then 405 naming DocumentReference.type and the status stays', async () => {
      const doc = await newDoc();
      const outcome = await expectOutcome(
        await jsonPatch(`DocumentReference/${doc.id}`, [
          { op: 'replace', path: '/status', value: 'superseded' },
          { op: 'replace', path: '/type/coding/0/code', value: '68599-0' },
        ]),
        405,
        'PATCH_NOT_ALLOWED'
      );
      expect(outcome.issue[0].expression).to.deep.equal(['DocumentReference.type']);
      const after = await read(doc.id);
      expect(after.status).to.equal('current');
      expect(after.type?.coding?.[0].code).to.equal('11488-4');
    });

    it('when the patch document is malformed (unknown op, body not an array, broken JSON), then 400 MALFORMED_BODY', async () => {
      const doc = await newDoc();
      const outcome = await expectOutcome(await jsonPatch(`DocumentReference/${doc.id}`, [{ op: 'frobnicate', path: '/status' }]), 400, 'MALFORMED_BODY');
      expect(outcome.issue[0].expression).to.deep.equal(['operation[0]']);
      await expectOutcome(await jsonPatch(`DocumentReference/${doc.id}`, { op: 'replace', path: '/status', value: 'superseded' }), 400, 'MALFORMED_BODY');
      const broken = await fhirFetch(`DocumentReference/${doc.id}`, { method: 'PATCH', headers: { 'content-type': JSON_PATCH }, body: '[{"op": "replace",' });
      await expectOutcome(broken, 400);
      expect((await read(doc.id)).meta?.versionId).to.equal('1');
    });

    it('when a test operation fails, then 409 CONFLICT and nothing changes', async () => {
      const doc = await newDoc();
      await expectOutcome(
        await jsonPatch(`DocumentReference/${doc.id}`, [
          { op: 'test', path: '/status', value: 'superseded' },
          { op: 'replace', path: '/status', value: 'entered-in-error' },
        ]),
        409,
        'CONFLICT'
      );
      expect((await read(doc.id)).status).to.equal('current');
    });

    it('when the result is not a valid DocumentReference (status outside its value set), then 400 and nothing changes', async () => {
      const doc = await newDoc();
      await expectOutcome(await jsonPatch(`DocumentReference/${doc.id}`, [{ op: 'replace', path: '/status', value: 'archived' }]), 400, 'INVALID_RESOURCE');
      expect((await read(doc.id)).status).to.equal('current');
    });
  });

  describe('FHIRPath Patch (Parameters)', () => {
    it('when MASQUE_PS is added (add on DocumentReference, name securityLabel), then 200 and the other labels stay', async () => {
      const doc = await newDoc();
      const res = await fhirPathPatch(`DocumentReference/${doc.id}`, op('add', 'DocumentReference', [{ name: 'name', valueString: 'securityLabel' }, { name: 'value', valueCodeableConcept: flag('MASQUE_PS') }]));
      expect(labelCodes(await json<Doc>(res, 200))).to.deep.equal(['N', 'INVISIBLE_PATIENT', 'MASQUE_PS']);
    });

    it('when one flag is deleted with where(), then 200 and every other label stays', async () => {
      const doc = await newDoc([N, flag('INVISIBLE_PATIENT'), flag('MASQUE_PS')]);
      const res = await fhirPathPatch(`DocumentReference/${doc.id}`, op('delete', "DocumentReference.securityLabel.where(coding.code = 'INVISIBLE_PATIENT')"));
      expect(labelCodes(await json<Doc>(res, 200))).to.deep.equal(['N', 'MASQUE_PS']);
    });

    it('when status is replaced, then 200 with status superseded', async () => {
      const doc = await newDoc();
      const res = await fhirPathPatch(`DocumentReference/${doc.id}`, op('replace', 'DocumentReference.status', [{ name: 'value', valueCode: 'superseded' }]));
      expect((await json<Doc>(res, 200)).status).to.equal('superseded');
    });

    it('when the isArchived extension is added from parts, then 200; replacing its value unarchives it', async () => {
      const doc = await newDoc();
      const archived = await json<Doc>(
        await fhirPathPatch(
          `DocumentReference/${doc.id}`,
          op('add', 'DocumentReference', [
            { name: 'name', valueString: 'extension' },
            { name: 'value', part: [{ name: 'url', valueUri: IS_ARCHIVED_EXTENSION_URL }, { name: 'value', valueBoolean: true }] },
          ])
        ),
        200
      );
      expect(archived.extension).to.deep.equal([{ url: IS_ARCHIVED_EXTENSION_URL, valueBoolean: true }]);
      const unarchived = await json<Doc>(
        await fhirPathPatch(`DocumentReference/${doc.id}`, op('replace', `DocumentReference.extension('${IS_ARCHIVED_EXTENSION_URL}').value`, [{ name: 'value', valueBoolean: false }])),
        200
      );
      expect(unarchived.extension).to.deep.equal([{ url: IS_ARCHIVED_EXTENSION_URL, valueBoolean: false }]);
      expect(unarchived.meta?.versionId).to.equal('3');
    });

    it('when a FHIRPath Patch replaces the type, then 405 PATCH_NOT_ALLOWED and nothing changes', async () => {
      const doc = await newDoc();
      const res = await fhirPathPatch(`DocumentReference/${doc.id}`, op('replace', 'DocumentReference.type', [{ name: 'value', valueCodeableConcept: { coding: [{ system: 'http://loinc.org', code: '68599-0' }] } }]));
      const outcome = await expectOutcome(res, 405, 'PATCH_NOT_ALLOWED');
      expect(outcome.issue[0].expression).to.deep.equal(['DocumentReference.type']);
      expect((await read(doc.id)).type?.coding?.[0].code).to.equal('11488-4');
    });

    it('when the Parameters are malformed (unknown operation type, missing value), then 400 MALFORMED_BODY pointing at the parameter', async () => {
      const doc = await newDoc();
      const outcome = await expectOutcome(await fhirPathPatch(`DocumentReference/${doc.id}`, op('upsert', 'DocumentReference.status')), 400, 'MALFORMED_BODY');
      expect(outcome.issue[0].expression?.[0]).to.match(/^Parameters\.parameter\[0\]/);
      await expectOutcome(await fhirPathPatch(`DocumentReference/${doc.id}`, op('delete', 'DocumentReference.status'), op('replace', 'DocumentReference.status')), 400, 'MALFORMED_BODY');
    });

    it('when a path is outside the supported FHIRPath subset or not FHIRPath at all, then 400', async () => {
      const doc = await newDoc();
      await expectOutcome(await fhirPathPatch(`DocumentReference/${doc.id}`, op('delete', 'DocumentReference.securityLabel.count()')), 400, 'BAD_REQUEST');
      await expectOutcome(await fhirPathPatch(`DocumentReference/${doc.id}`, op('delete', 'DocumentReference.(')), 400, 'MALFORMED_BODY');
    });
  });

  describe('routes, conditions and audit', () => {
    it('when PATCH targets a Patient, then 405 METHOD_NOT_ALLOWED and the Patient is unchanged', async () => {
      const res = await jsonPatch(`Patient/${patient.id}`, [{ op: 'replace', path: '/gender', value: 'male' }]);
      await expectOutcome(res, 405, 'METHOD_NOT_ALLOWED');
      expect((await json<Patient>(await fhirFetch(`Patient/${patient.id}`), 200)).gender).to.equal('female');
    });

    it('when the document does not exist, then 404 NOT_FOUND', async () => {
      await expectOutcome(await jsonPatch(`DocumentReference/${unique('none')}`, [{ op: 'replace', path: '/status', value: 'superseded' }]), 404, 'NOT_FOUND');
    });

    it('when a conditional PATCH names the business identifier of one document, then 200 on that document', async () => {
      const doc = await newDoc();
      const identifier = doc.identifier?.[0] as { system: string; value: string };
      const res = await jsonPatch(`DocumentReference?identifier=${encodeURIComponent(`${identifier.system}|${identifier.value}`)}`, [{ op: 'add', path: '/securityLabel/-', value: flag('MASQUE_PS') }]);
      const patched = await json<Doc>(res, 200);
      expect(patched.id).to.equal(doc.id);
      expect(labelCodes(patched)).to.deep.equal(['N', 'INVISIBLE_PATIENT', 'MASQUE_PS']);
    });

    it('when a conditional PATCH names the masterIdentifier (the XDS uniqueId), then 200 on that document', async () => {
      const uniqueId = { system: 'urn:ietf:rfc:3986', value: `urn:oid:1.2.250.1.999.${Date.now()}` };
      const doc = await newDoc(undefined, { masterIdentifier: uniqueId });
      const res = await jsonPatch(`DocumentReference?identifier=${encodeURIComponent(`${uniqueId.system}|${uniqueId.value}`)}`, [{ op: 'replace', path: '/status', value: 'superseded' }]);
      const patched = await json<Doc>(res, 200);
      expect(patched.id).to.equal(doc.id);
      expect(patched.status).to.equal('superseded');
    });

    it('when a conditional PATCH matches nothing, then 404 NOT_FOUND', async () => {
      await expectOutcome(await jsonPatch(`DocumentReference?identifier=${CRUD_TEST_SYSTEM}|${unique('none')}`, [{ op: 'replace', path: '/status', value: 'superseded' }]), 404, 'NOT_FOUND');
    });

    it('when a conditional PATCH matches two documents, then 412 and neither changes', async () => {
      const shared = { system: CRUD_TEST_SYSTEM, value: unique('dup') };
      const first = await newDoc(undefined, { identifier: [shared] });
      const second = await newDoc(undefined, { identifier: [shared] });
      await expectOutcome(await jsonPatch(`DocumentReference?identifier=${shared.system}|${shared.value}`, [{ op: 'replace', path: '/status', value: 'superseded' }]), 412, 'CONDITIONAL_NOT_SELECTIVE');
      expect((await read(first.id)).status).to.equal('current');
      expect((await read(second.id)).status).to.equal('current');
    });

    it('when If-Match names a stale version, then 412 PRECONDITION_FAILED; the current version, then 200', async () => {
      const doc = await newDoc();
      await json<Doc>(await jsonPatch(`DocumentReference/${doc.id}`, [{ op: 'replace', path: '/status', value: 'superseded' }]), 200);
      const stale = await jsonPatch(`DocumentReference/${doc.id}`, [{ op: 'add', path: '/securityLabel/-', value: flag('MASQUE_PS') }], { 'if-match': 'W/"1"' });
      await expectOutcome(stale, 412, 'PRECONDITION_FAILED');
      const fresh = await jsonPatch(`DocumentReference/${doc.id}`, [{ op: 'add', path: '/securityLabel/-', value: flag('MASQUE_PS') }], { 'if-match': 'W/"2"' });
      expect((await json<Doc>(fresh, 200)).meta?.versionId).to.equal('3');
    });

    it('when a document is patched, then an AuditEvent (patch, action U, success) names the document and the request', async () => {
      const doc = await newDoc();
      const requestId = unique('req-');
      await json<Doc>(await jsonPatch(`DocumentReference/${doc.id}`, [{ op: 'replace', path: '/status', value: 'superseded' }], { 'x-request-id': requestId }), 200);
      const bundle = await json<Bundle<AuditEvent>>(await fhirFetch(`AuditEvent?patient=${patient.id}&_count=100&_sort=-date`), 200);
      const events = (bundle.entry ?? []).map((e) => e.resource as AuditEvent).filter((e) => e.entity?.some((en) => en.what?.identifier?.value === `urn:x-request-id:${requestId}`));
      expect(events).to.have.length(1);
      expect(events[0].subtype?.[0].code).to.equal('patch');
      expect(events[0].action).to.equal('U');
      expect(events[0].outcome).to.equal('0');
      expect(events[0].entity?.map((e) => e.what?.reference)).to.include(`DocumentReference/${doc.id}`);
    });

    it('when a transaction carries a FHIRPath Patch and a JSON Patch (as a Binary), then both documents are patched', async () => {
      const a = await newDoc();
      const b = await newDoc();
      const fhirPath: Parameters = { resourceType: 'Parameters', parameter: [{ name: 'operation', part: op('replace', 'DocumentReference.status', [{ name: 'value', valueCode: 'superseded' }]) }] };
      const patch = Buffer.from(JSON.stringify([{ op: 'add', path: '/securityLabel/-', value: flag('MASQUE_PS') }])).toString('base64');
      const transaction: Bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { resource: fhirPath, request: { method: 'PATCH', url: `DocumentReference/${a.id}` } },
          { resource: { resourceType: 'Binary', contentType: JSON_PATCH, data: patch }, request: { method: 'PATCH', url: `DocumentReference/${b.id}` } },
        ],
      };
      const answer = await json<Bundle>(await fhirFetch('', { method: 'POST', body: JSON.stringify(transaction) }), 200);
      expect(answer.entry?.map((e) => e.response?.status)).to.deep.equal(['200 OK', '200 OK']);
      expect((await read(a.id)).status).to.equal('superseded');
      expect(labelCodes(await read(b.id))).to.deep.equal(['N', 'INVISIBLE_PATIENT', 'MASQUE_PS']);
    });
  });
});
