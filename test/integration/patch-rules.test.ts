/**
 * PATCH under the DMP access rules (issue 5, TD3.3), with real SMART tokens of the rig: changing a
 * document's visibility flags is reserved to its author and to the patient; its other metadata
 * (status, archive) to the author; a caller who may do neither learns nothing from the patch.
 */
import { expect } from 'chai';
import type { DocumentReference, Parameters } from '@medplum/fhirtypes';
import { VISIBILITY_SYSTEM } from '../../src/dmp/identifiers.js';
import {
  authorisation,
  documentOf,
  dmpPatient,
  expectAbsent,
  expectRefused,
  json,
  patientToken,
  patientUser,
  practitionerRef,
  professional,
  professionalToken,
  type RigProfessional,
} from '../helpers/dmp-rig.js';
import { rigCreate, rigFetch, rigSystemToken, startSmartRig, type SmartRig } from '../helpers/smart-flow.js';

type Doc = DocumentReference & { id: string };

const MASQUE_PS = { coding: [{ system: VISIBILITY_SYSTEM, code: 'MASQUE_PS' }] };
const labelCodes = (doc: DocumentReference): string[] => (doc.securityLabel ?? []).map((l) => l.coding?.[0]?.code as string);

describe('PATCH under the DMP rules (real SMART tokens)', function () {
  let rig: SmartRig;
  let patientId: string;
  const pros = {} as Record<'author' | 'authorised' | 'unauthorised', RigProfessional>;
  const tokens = {} as Record<'author' | 'authorised' | 'unauthorised' | 'patient', string>;

  const jsonPatch = (token: string, id: string, operations: unknown): Promise<Response> =>
    rigFetch(rig, `DocumentReference/${id}`, token, { method: 'PATCH', headers: { 'content-type': 'application/json-patch+json' }, body: JSON.stringify(operations) });
  const addMask = [{ op: 'add', path: '/securityLabel/-', value: MASQUE_PS }];
  const read = async (id: string): Promise<Doc> => json<Doc>(await rigFetch(rig, `DocumentReference/${id}`, await rigSystemToken(rig)), 200);
  const authorDoc = (title: string): Promise<Doc> => rigCreate(rig, { ...documentOf(patientId, { authorId: pros.author.practitionerId, title }), securityLabel: [] });

  before(async function () {
    this.timeout(120_000);
    rig = await startSmartRig();
    const patient = await dmpPatient(rig);
    patientId = patient.id;
    pros.author = await professional(rig, { profession: '10', speciality: 'SM54' });
    pros.authorised = await professional(rig, { profession: '10', speciality: 'SM54' });
    pros.unauthorised = await professional(rig, { profession: '10', speciality: 'SM54' });
    for (const who of [pros.author, pros.authorised]) {
      await rigCreate(rig, authorisation(patientId, practitionerRef(who.practitionerId)));
    }
    for (const key of Object.keys(pros) as (keyof typeof pros)[]) {
      tokens[key] = await professionalToken(rig, pros[key], patientId);
    }
    tokens.patient = await patientToken(rig, patientUser(rig, patient));
  });

  after(async () => {
    await rig?.close();
  });

  it('when the patient masks a document through PATCH (JSON Patch), then 200 and an authorised professional no longer sees it; unmasking (FHIRPath Patch) brings it back', async () => {
    const doc = await authorDoc('patient-masks.pdf');
    expect((await rigFetch(rig, `DocumentReference/${doc.id}`, tokens.authorised)).status).to.equal(200);
    expect(labelCodes(await json<Doc>(await jsonPatch(tokens.patient, doc.id, addMask), 200))).to.deep.equal(['MASQUE_PS']);
    await expectAbsent(await rigFetch(rig, `DocumentReference/${doc.id}`, tokens.authorised));
    const unmask: Parameters = {
      resourceType: 'Parameters',
      parameter: [{ name: 'operation', part: [{ name: 'type', valueCode: 'delete' }, { name: 'path', valueString: "DocumentReference.securityLabel.where(coding.code = 'MASQUE_PS')" }] }],
    };
    const res = await rigFetch(rig, `DocumentReference/${doc.id}`, tokens.patient, { method: 'PATCH', body: JSON.stringify(unmask) });
    expect(labelCodes(await json<Doc>(res, 200))).to.deep.equal([]);
    expect((await rigFetch(rig, `DocumentReference/${doc.id}`, tokens.authorised)).status).to.equal(200);
  });

  it('when the author masks their own document through PATCH, then 200 and another professional no longer sees it', async () => {
    const doc = await authorDoc('author-masks.pdf');
    expect((await json<Doc>(await jsonPatch(tokens.author, doc.id, addMask), 200)).meta?.versionId).to.equal('2');
    await expectAbsent(await rigFetch(rig, `DocumentReference/${doc.id}`, tokens.authorised));
  });

  it('when another authorised professional tries to change the masking through PATCH, then 403 not-author and the labels stay', async () => {
    const doc = await authorDoc('other-masks.pdf');
    await expectRefused(await jsonPatch(tokens.authorised, doc.id, addMask), 'not-author');
    const after = await read(doc.id);
    expect(labelCodes(after)).to.deep.equal([]);
    expect(after.meta?.versionId).to.equal('1');
  });

  it('when the patient changes the status of a professional\'s document, alone or with a mask, then 403 not-author (status is the author\'s)', async () => {
    const doc = await authorDoc('patient-status.pdf');
    await expectRefused(await jsonPatch(tokens.patient, doc.id, [{ op: 'replace', path: '/status', value: 'superseded' }]), 'not-author');
    await expectRefused(await jsonPatch(tokens.patient, doc.id, [...addMask, { op: 'replace', path: '/status', value: 'superseded' }]), 'not-author');
    const after = await read(doc.id);
    expect(after.status).to.equal('current');
    expect(labelCodes(after)).to.deep.equal([]);
  });

  it('when the author marks their document superseded through PATCH, then 200', async () => {
    const doc = await authorDoc('author-status.pdf');
    expect((await json<Doc>(await jsonPatch(tokens.author, doc.id, [{ op: 'replace', path: '/status', value: 'superseded' }]), 200)).status).to.equal('superseded');
  });

  it('when a professional the patient never authorised probes a document with a test operation, then 403 not-authorised, not the 409 a failed test would tell', async () => {
    const doc = await authorDoc('probed.pdf');
    const probe = [{ op: 'test', path: '/type/coding/0/code', value: 'not-the-type' }];
    await expectRefused(await jsonPatch(tokens.unauthorised, doc.id, probe), 'not-authorised');
  });
});
