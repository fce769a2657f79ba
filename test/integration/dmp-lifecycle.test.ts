/**
 * The DMP and its life cycle (issue 5), over HTTP with real tokens of the SMART rig: a DMP is a
 * Patient keyed by a qualified INS, one per INS; it is opened by the insurer or by a professional
 * with the patient's consent, unless the person opposed it; it is closed, reopened during its
 * retention, destroyed on request, and purged once its retention has ended (clock set by the test);
 * `Patient?identifier=<INS>` answers TD0.2.
 */
import { expect } from 'chai';
import type { Bundle, Consent, OperationOutcome, Parameters, Patient } from '@medplum/fhirtypes';
import { DMP_CLOSURE_EXTENSION_URL, DMP_CLOSURE_REASON_SYSTEM, INS_NIR_TEST_SYSTEM } from '../../src/dmp/identifiers.js';
import { purgeExpired } from '../../src/dmp/purge.js';
import { DMP_STATUS_SYSTEM } from '../../src/fhir/handlers/dmp-status.js';
import { ResourceRepo } from '../../src/repo/resource-repo.js';
import { birthPlace, expectOutcome, qualifiedIdentity, randomTestIns, testPatient, unique } from '../helpers/fhir.js';
import {
  authorisation,
  block,
  documentOf,
  dmpPatient,
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

type Record_ = Patient & { id: string; ins: string };
const YEAR_MS = 365.25 * 86_400_000;

describe('The DMP: INS-keyed Patient, opening, closure, reopening, destruction, purge (issue 5)', function () {
  let rig: SmartRig;
  let anchor: Record_;
  let doctor: RigProfessional;
  let doctorToken: string;
  let insurerToken: string;
  let operatorToken: string;

  const send = (token: string, method: 'POST' | 'PUT', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    rigFetch(rig, path, token, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const get = (token: string, path: string): Promise<Response> => rigFetch(rig, path, token);
  const byIns = (ins: string): string => `Patient?identifier=${encodeURIComponent(`${INS_NIR_TEST_SYSTEM}|${ins}`)}`;
  const insOf = (p: Patient): string => p.identifier?.find((i) => i.system === INS_NIR_TEST_SYSTEM)?.value as string;
  const reason = (code: string): Parameters => ({ resourceType: 'Parameters', parameter: [{ name: 'reason', valueCode: code }] });

  async function countByIns(ins: string): Promise<number> {
    return (await json<Bundle>(await get(operatorToken, byIns(ins)), 200)).entry?.filter((e) => e.resource?.resourceType === 'Patient').length ?? 0;
  }

  async function statusCodes(token: string, ins: string): Promise<string[]> {
    const bundle = await json<Bundle>(await get(token, byIns(ins)), 200);
    const outcome = bundle.entry?.find((e) => e.search?.mode === 'outcome')?.resource as OperationOutcome | undefined;
    return (outcome?.issue ?? []).flatMap((i) => i.details?.coding ?? []).filter((c) => c.system === DMP_STATUS_SYSTEM).map((c) => c.code as string);
  }

  /** A patient's record opened by the operator, with its own patient token. */
  async function recordWithPatient(): Promise<{ record: Record_; token: string }> {
    const record = await dmpPatient(rig);
    return { record, token: await patientToken(rig, patientUser(rig, record)) };
  }

  before(async function () {
    this.timeout(120_000);
    rig = await startSmartRig();
    anchor = await dmpPatient(rig);
    doctor = await professional(rig, { profession: '10', speciality: 'SM54' });
    doctorToken = await professionalToken(rig, doctor, anchor.id);
    insurerToken = await rigSystemToken(rig, 'system/*.cruds', rig.insurer);
    operatorToken = await rigSystemToken(rig);
  });

  after(async () => {
    await rig?.close();
  });

  describe('a DMP is a Patient with a qualified INS and the INS traits', () => {
    it('when the Patient carries no INS, then 422 INS_REQUIRED pointing at Patient.identifier and nothing is stored', async () => {
      const family = unique('NoIns');
      const res = await send(insurerToken, 'POST', 'Patient', testPatient({ identifier: [{ system: 'urn:example:mrn', value: unique('mrn') }], name: testPatient({}).name?.map((n) => ({ ...n, family })) }));
      const outcome = await expectOutcome(res, 422, 'INS_REQUIRED');
      expect(outcome.issue[0].expression).to.deep.equal(['Patient.identifier']);
      expect((await json<Bundle>(await get(operatorToken, `Patient?family=${family}`), 200)).total).to.equal(0);
    });

    it('when the identity is provisional (PROV) or validated without INSi (VALI), then 422 IDENTITY_NOT_QUALIFIED and nothing is stored', async () => {
      for (const status of ['PROV', 'VALI']) {
        const patient = testPatient({ extension: [qualifiedIdentity(status), birthPlace('75114')] });
        const outcome = await expectOutcome(await send(insurerToken, 'POST', 'Patient', patient), 422, 'IDENTITY_NOT_QUALIFIED');
        expect(outcome.issue[0].details?.text).to.contain(status);
        expect(await countByIns(insOf(patient))).to.equal(0);
      }
    });

    it('when an INS trait is missing (birth place, list of birth given names), then 422 INS_TRAITS_MISSING names each one', async () => {
      const base = testPatient();
      const patient = { ...base, extension: [qualifiedIdentity()], name: [{ use: 'official' as const, family: 'SANS', given: ['Lieu'] }] };
      const outcome = await expectOutcome(await send(insurerToken, 'POST', 'Patient', patient), 422, 'INS_TRAITS_MISSING');
      expect(outcome.issue.flatMap((i) => i.expression ?? [])).to.include.members(['Patient.name[0].extension', 'Patient.extension']);
      expect(await countByIns(insOf(patient))).to.equal(0);
    });
  });

  describe('one DMP per INS', () => {
    it('when a second Patient carries an INS that already has a DMP, then 409 DMP_ALREADY_EXISTS and there is still one', async () => {
      const ins = randomTestIns();
      const identifier = [{ system: INS_NIR_TEST_SYSTEM, value: ins }];
      await json(await send(insurerToken, 'POST', 'Patient', testPatient({ identifier })), 201);
      const outcome = await expectOutcome(await send(insurerToken, 'POST', 'Patient', testPatient({ identifier })), 409, 'DMP_ALREADY_EXISTS');
      expect(outcome.issue[0].details?.text).to.contain(ins);
      expect(await countByIns(ins)).to.equal(1);
    });

    it('when the insurer opens a DMP with If-None-Exist on the INS, then the first call creates it (201) and the next returns it (200)', async () => {
      const ins = randomTestIns();
      const patient = testPatient({ identifier: [{ system: INS_NIR_TEST_SYSTEM, value: ins }] });
      const headers = { 'if-none-exist': `identifier=${INS_NIR_TEST_SYSTEM}|${ins}` };
      const first = await json<Patient>(await send(insurerToken, 'POST', 'Patient', patient, headers), 201);
      const again = await json<Patient>(await send(insurerToken, 'POST', 'Patient', patient, headers), 200);
      expect(again.id).to.equal(first.id);
    });

    it('when two creations of the same INS race, then exactly one lands (201) and the other is 409', async () => {
      const ins = randomTestIns();
      const patient = testPatient({ identifier: [{ system: INS_NIR_TEST_SYSTEM, value: ins }] });
      const answers = await Promise.all([1, 2, 3].map(() => send(insurerToken, 'POST', 'Patient', patient)));
      expect(answers.map((r) => r.status).sort()).to.deep.equal([201, 409, 409]);
      expect(await countByIns(ins)).to.equal(1);
    });

    it('when a Patient is updated to carry the INS of another DMP, then 409 and it keeps its own', async () => {
      const a = await dmpPatient(rig);
      const b = await dmpPatient(rig);
      const { ins: _ins, ...stored } = b;
      await expectOutcome(await send(operatorToken, 'PUT', `Patient/${b.id}`, { ...stored, identifier: [{ system: INS_NIR_TEST_SYSTEM, value: a.ins }] }), 409, 'DMP_ALREADY_EXISTS');
      expect(await countByIns(b.ins)).to.equal(1);
    });
  });

  describe('opening a DMP', () => {
    it("when the insurer's system client opens a DMP (automatic creation), then 201", async () => {
      const created = await json<Patient>(await send(insurerToken, 'POST', 'Patient', testPatient()), 201);
      expect(created.id).to.be.a('string');
    });

    it("when a professional opens a DMP without recording the patient's consent, then 403 opening-consent-missing and nothing is stored", async () => {
      const patient = testPatient();
      await expectRefused(await send(doctorToken, 'POST', 'Patient', patient), 'opening-consent-missing');
      expect(await countByIns(insOf(patient))).to.equal(0);
    });

    it("when a professional opens a DMP in a transaction with the patient's authorisation of them (Consent), then both are stored and they read the record", async () => {
      const patient = testPatient();
      const bundle = openingBundle(patient, practitionerRef(doctor.practitionerId));
      const response = await json<Bundle>(await send(doctorToken, 'POST', '', bundle), 200);
      expect(response.entry?.map((e) => e.response?.status)).to.deep.equal(['201 Created', '201 Created']);
      const id = response.entry?.[0].response?.location?.split('/')[1] as string;
      expect((await json<Patient>(await get(doctorToken, `Patient/${id}`), 200)).id).to.equal(id);
    });

    it('when the opening transaction holds no Consent, or one authorising someone else, then 403 and nothing is stored', async () => {
      const patient = testPatient();
      const alone: Bundle = { ...openingBundle(patient, practitionerRef(doctor.practitionerId)), entry: openingBundle(patient, {}).entry?.slice(0, 1) };
      await expectRefused(await send(doctorToken, 'POST', '', alone), 'opening-consent-missing');
      const other = await professional(rig, { profession: '10', speciality: 'SM54' });
      await expectRefused(await send(doctorToken, 'POST', '', openingBundle(patient, practitionerRef(other.practitionerId))), 'reserved-to-patient');
      expect(await countByIns(insOf(patient))).to.equal(0);
    });

    it('when the person opposed the creation of their DMP, then neither the insurer nor a professional can open it (409), TD0.2 says so, and the person can ask for it ($reopen)', async () => {
      const ins = randomTestIns();
      const identifier = [{ system: INS_NIR_TEST_SYSTEM, value: ins }];
      const opposition: Patient = {
        ...testPatient({ identifier }),
        active: false,
        extension: [
          ...(testPatient().extension ?? []),
          { url: DMP_CLOSURE_EXTENSION_URL, extension: [{ url: 'dateFermeture', valueDateTime: new Date().toISOString() }, { url: 'motifFermeture', valueCoding: { system: DMP_CLOSURE_REASON_SYSTEM, code: 'opposition-creation' } }] },
        ],
      };
      const recorded = await json<Patient>(await send(insurerToken, 'POST', 'Patient', opposition), 201);
      await expectOutcome(await send(insurerToken, 'POST', 'Patient', testPatient({ identifier })), 409, 'DMP_CREATION_OPPOSED');
      await expectOutcome(await send(doctorToken, 'POST', '', openingBundle(testPatient({ identifier }), practitionerRef(doctor.practitionerId))), 409, 'DMP_CREATION_OPPOSED');
      expect(await statusCodes(insurerToken, ins)).to.deep.equal(['creation-opposed']);
      const personToken = await patientToken(rig, patientUser(rig, { ins }));
      const reopened = await json<Patient>(await send(personToken, 'POST', `Patient/${recorded.id}/$reopen`), 200);
      expect(reopened.active).to.equal(true);
      expect(reopened.extension?.some((e) => e.url === DMP_CLOSURE_EXTENSION_URL)).to.equal(false);
    });
  });

  describe('$close and $reopen', () => {
    it('when the patient closes their DMP, then it is read-only (active false, closure date and reason), professionals lose access and the patient still reads it', async () => {
      const { record, token } = await recordWithPatient();
      await rigCreate(rig, authorisation(record.id, practitionerRef(doctor.practitionerId)));
      const proToken = await professionalToken(rig, doctor, record.id);
      expect((await get(proToken, `Patient/${record.id}`)).status).to.equal(200);
      const closed = await json<Patient>(await send(token, 'POST', `Patient/${record.id}/$close`, { ...reason('patient-demande'), parameter: [...(reason('patient-demande').parameter ?? []), { name: 'comment', valueString: 'à ma demande' }] }), 200);
      expect(closed.active).to.equal(false);
      const closure = closed.extension?.find((e) => e.url === DMP_CLOSURE_EXTENSION_URL);
      expect(closure?.extension?.find((e) => e.url === 'motifFermeture')?.valueCoding).to.deep.equal({ system: DMP_CLOSURE_REASON_SYSTEM, code: 'patient-demande' });
      expect(Date.now() - Date.parse(closure?.extension?.find((e) => e.url === 'dateFermeture')?.valueDateTime as string)).to.be.within(0, 60_000);
      expect(closure?.extension?.find((e) => e.url === 'raisonFermeture')?.valueString).to.equal('à ma demande');
      await expectRefused(await get(proToken, `Patient/${record.id}`), 'dmp-closed');
      await expectRefused(await send(proToken, 'POST', 'DocumentReference', documentOf(record.id, { authorId: doctor.practitionerId })), 'dmp-closed');
      expect((await json<Patient>(await get(token, `Patient/${record.id}`), 200)).active).to.equal(false);
      expect(await statusCodes(insurerToken, record.ins)).to.deep.equal(['closed']);
    });

    it('when the DMP is already closed, then $close is 409; an unknown reason is 400', async () => {
      const { record, token } = await recordWithPatient();
      await expectOutcome(await send(token, 'POST', `Patient/${record.id}/$close`, reason('lassitude')), 400, 'BAD_REQUEST');
      await json(await send(token, 'POST', `Patient/${record.id}/$close`), 200);
      await expectOutcome(await send(token, 'POST', `Patient/${record.id}/$close`), 409, 'DMP_STATE_CONFLICT');
    });

    it('when a professional the patient authorised closes the DMP on their request, then 200; one not authorised, 403 not-authorised', async () => {
      const record = await dmpPatient(rig);
      const stranger = await professional(rig, { profession: '10', speciality: 'SM54' });
      await expectRefused(await send(await professionalToken(rig, stranger, record.id), 'POST', `Patient/${record.id}/$close`), 'not-authorised');
      await rigCreate(rig, authorisation(record.id, practitionerRef(doctor.practitionerId)));
      const closed = await json<Patient>(await send(await professionalToken(rig, doctor, record.id), 'POST', `Patient/${record.id}/$close`, reason('deces')), 200);
      expect(closed.active).to.equal(false);
    });

    it('when the patient reopens their closed DMP, then it is active again and the authorised professional reads it again; a professional cannot reopen it', async () => {
      const { record, token } = await recordWithPatient();
      await rigCreate(rig, authorisation(record.id, practitionerRef(doctor.practitionerId)));
      await json(await send(token, 'POST', `Patient/${record.id}/$close`), 200);
      const proToken = await professionalToken(rig, doctor, record.id);
      await expectRefused(await send(proToken, 'POST', `Patient/${record.id}/$reopen`), 'dmp-closed');
      const reopened = await json<Patient>(await send(token, 'POST', `Patient/${record.id}/$reopen`), 200);
      expect(reopened.active).to.equal(true);
      expect((await get(proToken, `Patient/${record.id}`)).status).to.equal(200);
      await expectOutcome(await send(token, 'POST', `Patient/${record.id}/$reopen`), 409, 'DMP_STATE_CONFLICT');
    });

    it('when the retention period of a closed DMP has ended, then $reopen is 409 DMP_RETENTION_EXPIRED', async () => {
      const { record, token } = await recordWithPatient();
      const { ins: _ins, ...stored } = record;
      const elevenYearsAgo = new Date(Date.now() - 11 * YEAR_MS).toISOString();
      // The host's operator back-dates the closure (what time would have done).
      await json(await send(operatorToken, 'PUT', `Patient/${record.id}`, closedOn(stored, elevenYearsAgo)), 200);
      await expectOutcome(await send(token, 'POST', `Patient/${record.id}/$reopen`), 409, 'DMP_RETENTION_EXPIRED');
    });
  });

  describe('$destroy and the purge after retention', () => {
    it('when the patient destroys their DMP, then the record and its documents are erased at once, the audit trail stays; a professional may not destroy', async () => {
      const { record, token } = await recordWithPatient();
      await rigCreate(rig, authorisation(record.id, practitionerRef(doctor.practitionerId)));
      const doc = await rigCreate(rig, documentOf(record.id, { authorId: doctor.practitionerId }));
      const proToken = await professionalToken(rig, doctor, record.id);
      expect((await get(proToken, `DocumentReference/${doc.id}`)).status).to.equal(200);
      await expectRefused(await send(proToken, 'POST', `Patient/${record.id}/$destroy`), 'reserved-to-patient');
      const outcome = await json<OperationOutcome>(await send(token, 'POST', `Patient/${record.id}/$destroy`), 200);
      expect(outcome.issue[0].details?.text).to.match(/destroyed .*audit trail .* kept/);
      expect((await get(operatorToken, `Patient/${record.id}`)).status).to.equal(404);
      expect((await get(operatorToken, `DocumentReference/${doc.id}`)).status).to.equal(404);
      expect((await get(operatorToken, `DocumentReference/${doc.id}/_history`)).status).to.equal(404);
      expect(await countByIns(record.ins)).to.equal(0);
      const traces = await json<Bundle>(await get(operatorToken, `AuditEvent?patient=${record.id}&_count=100`), 200);
      expect(traces.total, 'the audit trail of who accessed the record stays').to.be.greaterThan(2);
    });

    it('when a closed DMP reaches the end of its retention, then the purge erases it (not before), keeps its audit trail, and leaves oppositions and open DMPs alone', async () => {
      const closed = await dmpPatient(rig);
      const open = await dmpPatient(rig);
      const doc = await rigCreate(rig, documentOf(closed.id, { authorId: doctor.practitionerId }));
      const { ins: _ins, ...stored } = closed;
      const closedAt = new Date(Date.now() - 1000).toISOString();
      await json(await send(operatorToken, 'PUT', `Patient/${closed.id}`, closedOn(stored, closedAt)), 200);
      const repo = new ResourceRepo(rig.db);
      const nineYearsLater = await purgeExpired(repo, new Date(Date.now() + 9 * YEAR_MS), 10);
      expect(nineYearsLater.purged).to.not.include(closed.id);
      expect((await get(operatorToken, `Patient/${closed.id}`)).status).to.equal(200);
      const elevenYearsLater = await purgeExpired(repo, new Date(Date.now() + 11 * YEAR_MS), 10);
      expect(elevenYearsLater.purged).to.include(closed.id);
      expect(elevenYearsLater.purged).to.not.include(open.id);
      expect((await get(operatorToken, `Patient/${closed.id}`)).status).to.equal(404);
      expect((await get(operatorToken, `DocumentReference/${doc.id}`)).status).to.equal(404);
      expect((await get(operatorToken, `Patient/${open.id}`)).status).to.equal(200);
      expect((await json<Bundle>(await get(operatorToken, `AuditEvent?patient=${closed.id}`), 200)).total).to.be.greaterThan(0);
    });
  });

  describe('TD0.2: Patient?identifier=<INS> says whether a DMP exists, its state and the caller\'s rights', () => {
    it('when no DMP exists for the INS, then the searchset is empty', async () => {
      const bundle = await json<Bundle>(await get(doctorToken, byIns(randomTestIns())), 200);
      expect(bundle.total).to.equal(0);
      expect(bundle.entry ?? []).to.deep.equal([]);
    });

    it('when professionals look a DMP up, then each learns whether they are authorised, blocked, and whether they are its médecin traitant', async () => {
      const record = await dmpPatient(rig);
      const traitant = await professional(rig, { profession: '10', speciality: 'SM54' });
      const blocked = await professional(rig, { profession: '10', speciality: 'SM54' });
      const stranger = await professional(rig, { profession: '10', speciality: 'SM54' });
      await rigCreate(rig, authorisation(record.id, practitionerRef(doctor.practitionerId)));
      await rigCreate(rig, block(record.id, practitionerRef(blocked.practitionerId)));
      const { ins: _ins, ...stored } = record;
      await json(await send(operatorToken, 'PUT', `Patient/${record.id}`, { ...stored, generalPractitioner: [practitionerRef(traitant.practitionerId)] }), 200);
      expect(await statusCodes(doctorToken, record.ins)).to.deep.equal(['open', 'authorised', 'not-medecin-traitant']);
      expect(await statusCodes(await professionalToken(rig, traitant, anchor.id), record.ins)).to.deep.equal(['open', 'authorised', 'medecin-traitant']);
      expect(await statusCodes(await professionalToken(rig, blocked, anchor.id), record.ins)).to.deep.equal(['open', 'blocked', 'not-medecin-traitant']);
      expect(await statusCodes(await professionalToken(rig, stranger, anchor.id), record.ins)).to.deep.equal(['open', 'not-authorised', 'not-medecin-traitant']);
    });
  });
});

/** A transaction opening a DMP: the Patient and the patient's authorisation of `who` (their consent). */
function openingBundle(patient: Patient, who: { reference?: string }): Bundle {
  const patientUrl = `urn:uuid:${crypto.randomUUID()}`;
  const consent: Consent = { ...authorisation('x', who), patient: { reference: patientUrl } };
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { fullUrl: patientUrl, resource: patient, request: { method: 'POST', url: 'Patient' } },
      { fullUrl: `urn:uuid:${crypto.randomUUID()}`, resource: consent, request: { method: 'POST', url: 'Consent' } },
    ],
  };
}

/** The Patient as closed on `date` (patient's request). */
function closedOn(patient: Patient, date: string): Patient {
  return {
    ...patient,
    active: false,
    extension: [
      ...(patient.extension ?? []).filter((e) => e.url !== DMP_CLOSURE_EXTENSION_URL),
      { url: DMP_CLOSURE_EXTENSION_URL, extension: [{ url: 'dateFermeture', valueDateTime: date }, { url: 'motifFermeture', valueCoding: { system: DMP_CLOSURE_REASON_SYSTEM, code: 'patient-demande' } }] },
    ],
  };
}
