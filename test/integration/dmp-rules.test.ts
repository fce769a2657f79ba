/**
 * The DMP access rules of issue 4 (rules 1 to 9), over HTTP with real tokens of the SMART rig: the
 * professionals and patients log in at the rig's upstream provider; nothing is decided by a test
 * back door. System clients act by their registered DMP role (the insurer, none, the host operator):
 * their section comes last but one. The audit trail of these accesses is checked at the end.
 */
import { expect } from 'chai';
import type { AuditEvent, Bundle, DocumentReference, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { DOC_TYPE_COMPLEMENTARY_SYSTEM, IDNST_SYSTEM, INS_NIR_TEST_SYSTEM, VISIBILITY_SYSTEM } from '../../src/dmp/identifiers.js';
import { backdateDeposit } from '../helpers/deposit.js';
import { unique } from '../helpers/fhir.js';
import {
  auditEventsOf,
  authorisation,
  binaryOf,
  block,
  CONSULT_NOTE,
  documentOf,
  dmpPatient,
  emergencyOpposition,
  expectAbsent,
  expectRefused,
  extendedRights,
  idsIn,
  json,
  legalRepresentative,
  patientToken,
  patientUser,
  practitionerRef,
  professional,
  professionalToken,
  PSYCHIATRIC_SYNTHESIS,
  representativeToken,
  type RigProfessional,
  type Visibility,
} from '../helpers/dmp-rig.js';
import { authorize, createLaunch, loginForToken, pickerChoices, pickerChoose, redeemCode, rigCreate, rigFetch, rigSystemToken, startSmartRig, type SmartRig } from '../helpers/smart-flow.js';

const DAY_MS = 86_400_000;
type Doc = DocumentReference & { id: string };
type Record_ = Patient & { id: string; ins: string };

describe('DMP access rules (issue 4) over HTTP with real SMART tokens', function () {
  let rig: SmartRig;
  /** The main adult record and its documents. */
  let patient: Record_;
  const docs = {} as { normal: Doc; psychiatric: Doc; masked: Doc; invisibleRecent: Doc; invisibleOld: Doc; invisibleBackdated: Doc; audited: Doc };
  /** A minor, their legal representative's own record, and the minor's documents. */
  let minor: Record_;
  let parent: Record_;
  const minorDocs = {} as { normal: Doc; hiddenFromRepresentatives: Doc };
  /** A record whose patient opposed bris de glace only, one that opposed centre 15 only, a closed one. */
  let opposedBdg: Record_;
  let opposedC15: Record_;
  let closed: Record_;
  let closedDoc: Doc;

  const pros = {} as Record<
    'authorised' | 'viaStructure' | 'expired' | 'unauthorised' | 'blocked' | 'laterBlocked' | 'nurse' | 'unknownProfession' | 'author' | 'traitant' | 'extended' | 'emergency' | 'regulator' | 'emergencyNurse',
    RigProfessional
  >;
  const tokens = {} as Record<string, string>;
  const structure = `R1${Date.now()}`.slice(0, 12);

  const get = (token: string, path: string, headers: Record<string, string> = {}): Promise<Response> => rigFetch(rig, path, token, { headers });
  const send = (token: string, method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    rigFetch(rig, path, token, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });

  async function searchDocs(token: string, patientId: string): Promise<Bundle> {
    return json<Bundle>(await get(token, `DocumentReference?patient=${patientId}&_count=100`), 200);
  }

  const labelled = (doc: Doc, labels: Visibility[]): Doc => ({ ...doc, securityLabel: labels.map((code) => ({ coding: [{ system: VISIBILITY_SYSTEM, code }] })) });

  before(async function () {
    this.timeout(120_000);
    rig = await startSmartRig();
    patient = await dmpPatient(rig);
    minor = await dmpPatient(rig, { birthDate: '2014-09-03' });
    parent = await dmpPatient(rig, { birthDate: '1984-01-20' });
    opposedBdg = await dmpPatient(rig);
    opposedC15 = await dmpPatient(rig);
    closed = await dmpPatient(rig);
    await legalRepresentative(rig, minor.id, parent);

    pros.authorised = await professional(rig, { profession: '10', speciality: 'SM54' });
    pros.viaStructure = await professional(rig, { profession: '10', speciality: 'SM54', structure });
    pros.expired = await professional(rig, { profession: '10', speciality: 'SM54' });
    pros.unauthorised = await professional(rig, { profession: '10', speciality: 'SM54' });
    pros.blocked = await professional(rig, { profession: '10', speciality: 'SM54' });
    pros.laterBlocked = await professional(rig, { profession: '10', speciality: 'SM54' });
    pros.nurse = await professional(rig, { profession: '60', speciality: 'SI01' });
    pros.unknownProfession = await professional(rig, { profession: '99', speciality: 'XX01' });
    pros.author = await professional(rig, { profession: '10', speciality: 'SM54' });
    pros.traitant = await professional(rig, { profession: '10', speciality: 'SM54' });
    pros.extended = await professional(rig, { profession: '10', speciality: 'SM54' });
    pros.emergency = await professional(rig, { profession: '10', speciality: 'SM26' });
    pros.regulator = await professional(rig, { profession: '10', speciality: 'SM54', regulator: true });
    pros.emergencyNurse = await professional(rig, { profession: '60', speciality: 'SI01' });

    for (const who of [pros.authorised, pros.blocked, pros.laterBlocked, pros.nurse, pros.unknownProfession, pros.author]) {
      await rigCreate(rig, authorisation(patient.id, practitionerRef(who.practitionerId)));
    }
    await rigCreate(rig, authorisation(patient.id, { identifier: { system: IDNST_SYSTEM, value: structure } }));
    await rigCreate(rig, authorisation(patient.id, practitionerRef(pros.expired.practitionerId), { start: new Date(Date.now() - 400 * DAY_MS).toISOString(), end: new Date(Date.now() - 35 * DAY_MS).toISOString() }));
    await rigCreate(rig, block(patient.id, practitionerRef(pros.blocked.practitionerId)));
    await rigCreate(rig, extendedRights(patient.id, practitionerRef(pros.extended.practitionerId)));
    await rigCreate(rig, authorisation(closed.id, practitionerRef(pros.authorised.practitionerId)));
    await rigCreate(rig, emergencyOpposition(opposedBdg.id, 'bris_de_glace'));
    await rigCreate(rig, emergencyOpposition(opposedC15.id, 'centre_15'));
    await rigCreate(rig, authorisation(minor.id, practitionerRef(pros.authorised.practitionerId)));

    const other = pros.unauthorised.practitionerId;
    docs.normal = await rigCreate(rig, documentOf(patient.id, { authorId: other }));
    docs.psychiatric = await rigCreate(rig, documentOf(patient.id, { type: PSYCHIATRIC_SYNTHESIS, authorId: other }));
    docs.masked = await rigCreate(rig, documentOf(patient.id, { labels: ['MASQUE_PS'], authorId: pros.author.practitionerId }));
    docs.invisibleRecent = await rigCreate(rig, documentOf(patient.id, { labels: ['INVISIBLE_PATIENT'], authorId: other }));
    docs.invisibleOld = await rigCreate(rig, documentOf(patient.id, { labels: ['INVISIBLE_PATIENT'], authorId: other, date: new Date(Date.now() - 60 * DAY_MS).toISOString() }));
    await backdateDeposit(rig.db, docs.invisibleOld.id, new Date(Date.now() - 60 * DAY_MS).toISOString());
    // Dated long ago but deposited now: the delay counts from the deposit.
    docs.invisibleBackdated = await rigCreate(rig, documentOf(patient.id, { labels: ['INVISIBLE_PATIENT'], authorId: other, date: new Date(Date.now() - 400 * DAY_MS).toISOString() }));
    docs.audited = await rigCreate(rig, documentOf(patient.id, { authorId: other, title: 'audited.pdf' }));
    minorDocs.normal = await rigCreate(rig, documentOf(minor.id, { authorId: other }));
    minorDocs.hiddenFromRepresentatives = await rigCreate(rig, documentOf(minor.id, { labels: ['INVISIBLE_REPRESENTANTS_LEGAUX'], authorId: other }));
    closedDoc = await rigCreate(rig, documentOf(closed.id, { authorId: other }));
    for (const record of [opposedBdg, opposedC15]) {
      await rigCreate(rig, documentOf(record.id, { authorId: other }));
    }
    const { ins: _ins, ...closedPatient } = closed;
    await json(await send(await rigSystemToken(rig), 'PUT', `Patient/${closed.id}`, { ...closedPatient, active: false }), 200);

    for (const key of Object.keys(pros) as (keyof typeof pros)[]) {
      if (key !== 'emergency' && key !== 'regulator' && key !== 'emergencyNurse') {
        tokens[key] = await professionalToken(rig, pros[key], patient.id);
      }
    }
    tokens.emergency = await professionalToken(rig, pros.emergency, patient.id, { accessMode: 'bris_de_glace', accessReason: 'Patient inconscient aux urgences' });
    tokens.blockedEmergency = await professionalToken(rig, pros.blocked, patient.id, { accessMode: 'bris_de_glace', accessReason: 'Urgence vitale' });
    tokens.emergencyNurse = await professionalToken(rig, pros.emergencyNurse, patient.id, { accessMode: 'bris_de_glace', accessReason: 'Détresse respiratoire' });
    tokens.regulator = await professionalToken(rig, pros.regulator, patient.id, { accessMode: 'centre_15' });
    tokens.patient = await patientToken(rig, patientUser(rig, patient));
    tokens.minor = await patientToken(rig, patientUser(rig, minor));
    tokens.closedPatient = await patientToken(rig, patientUser(rig, closed));
    tokens.representative = await representativeToken(rig, patientUser(rig, parent), minor.id);
  });

  after(async () => {
    await rig?.close();
  });

  describe('rule 1: a professional reads a DMP only if the patient authorised them; feeding needs no authorisation', () => {
    it('when a professional the patient never authorised reads the Patient, a document, or searches the documents, then each is 403 with the reason not-authorised and a sentence they understand', async () => {
      const outcome = await expectRefused(await get(tokens.unauthorised, `Patient/${patient.id}`), 'not-authorised');
      expect(outcome.issue[0].details?.text).to.match(/autoris/);
      await expectRefused(await get(tokens.unauthorised, `DocumentReference/${docs.normal.id}`), 'not-authorised');
      await expectRefused(await get(tokens.unauthorised, `DocumentReference?patient=${patient.id}`), 'not-authorised');
      await expectRefused(await get(tokens.unauthorised, `DocumentReference/${docs.normal.id}/_history`), 'not-authorised');
    });

    it('when the patient authorised the professional (Consent permit TREAT naming their Practitioner), then they read the Patient and the documents', async () => {
      expect((await json<Patient>(await get(tokens.authorised, `Patient/${patient.id}`), 200)).id).to.equal(patient.id);
      expect((await json<Doc>(await get(tokens.authorised, `DocumentReference/${docs.normal.id}`), 200)).id).to.equal(docs.normal.id);
      expect(idsIn(await searchDocs(tokens.authorised, patient.id), 'DocumentReference')).to.include(docs.normal.id);
    });

    it('when the patient authorised the professional\'s structure (Consent actor = IDNST identifier), then the professional acting in it reads the DMP', async () => {
      expect((await json<Doc>(await get(tokens.viaStructure, `DocumentReference/${docs.normal.id}`), 200)).id).to.equal(docs.normal.id);
      expect(idsIn(await searchDocs(tokens.viaStructure, patient.id), 'DocumentReference')).to.include(docs.normal.id);
    });

    it('when a professional the patient never authorised searches the record\'s RelatedPersons or Consents, then 403 not-authorised (no names, no INS of the representatives)', async () => {
      await expectRefused(await get(tokens.unauthorised, `RelatedPerson?patient=${minor.id}`), 'not-authorised');
      await expectRefused(await get(tokens.unauthorised, `Consent?patient=${patient.id}`), 'not-authorised');
      const viaPatient = await json<Bundle>(await get(tokens.unauthorised, `Patient?_id=${minor.id}&_revinclude=RelatedPerson:patient&_revinclude=Consent:patient`), 200);
      expect(idsIn(viaPatient, 'RelatedPerson')).to.deep.equal([]);
      expect(idsIn(viaPatient, 'Consent')).to.deep.equal([]);
      expect(idsIn(await json<Bundle>(await get(tokens.authorised, `RelatedPerson?patient=${minor.id}`), 200), 'RelatedPerson')).to.have.length(1);
    });

    it('when the authorisation\'s period has ended, then the professional is refused (403 not-authorised)', async () => {
      await expectRefused(await get(tokens.expired, `DocumentReference/${docs.normal.id}`), 'not-authorised');
      await expectRefused(await get(tokens.expired, `DocumentReference?patient=${patient.id}`), 'not-authorised');
    });

    it('when a professional who is not authorised feeds the DMP (creates a DocumentReference), then 201, and they still cannot read it back through a search', async () => {
      const created = await json<Doc>(await send(tokens.unauthorised, 'POST', 'DocumentReference', documentOf(patient.id, { authorId: pros.unauthorised.practitionerId })), 201);
      expect(created.id).to.be.a('string');
      await expectRefused(await get(tokens.unauthorised, `DocumentReference?patient=${patient.id}`), 'not-authorised');
    });

    it('when the patient reads their own DMP, then no authorisation is needed (200)', async () => {
      expect((await json<Patient>(await get(tokens.patient, `Patient/${patient.id}`), 200)).id).to.equal(patient.id);
      expect(idsIn(await searchDocs(tokens.patient, patient.id), 'DocumentReference')).to.include(docs.normal.id);
    });

    it('when a professional whose token has no patient context searches DocumentReference without naming the patient, then 400; naming them works', async () => {
      const token = (await loginForToken(rig, { scope: 'openid fhirUser user/*.cruds' }, pros.authorised.user)).access_token;
      const outcome = await json<OperationOutcome>(await get(token, 'DocumentReference?_count=5'), 400);
      expect(outcome.issue[0].details?.text).to.contain('patient');
      expect(idsIn(await searchDocs(token, patient.id), 'DocumentReference')).to.include(docs.normal.id);
    });

    it('when a professional searches patients by name or birth date, then 400 (patients are found by INS); by INS, the patient is found; with a patient in context, only that patient', async () => {
      const token = (await loginForToken(rig, { scope: 'openid fhirUser user/*.cruds' }, pros.authorised.user)).access_token;
      const family = patient.name?.[0]?.family as string;
      const refused = await json<OperationOutcome>(await get(token, `Patient?family=${encodeURIComponent(family)}`), 400);
      expect(refused.issue[0].expression).to.deep.equal(['identifier']);
      expect((await get(token, `Patient?birthdate=${patient.birthDate}`)).status).to.equal(400);
      expect((await get(token, `Patient?identifier=${patient.ins}`)).status, 'a bare value is not an INS of a known system').to.equal(400);
      const byIns = await json<Bundle>(await get(token, `Patient?identifier=${encodeURIComponent(`urn:oid:1.2.250.1.213.1.4.10|${patient.ins}`)}&family=${encodeURIComponent(family)}`), 200);
      expect(idsIn(byIns, 'Patient')).to.deep.equal([patient.id]);
      const inContext = await json<Bundle>(await get(tokens.authorised, 'Patient?_count=50'), 200);
      expect(idsIn(inContext, 'Patient')).to.deep.equal([patient.id]);
    });
  });

  describe('rule 2: a blocked professional never reads or writes the DMP', () => {
    it('when a professional is both authorised and blocked, then the block wins: 403 blocked on read and search', async () => {
      await expectRefused(await get(tokens.blocked, `Patient/${patient.id}`), 'blocked');
      await expectRefused(await get(tokens.blocked, `DocumentReference/${docs.normal.id}`), 'blocked');
      await expectRefused(await get(tokens.blocked, `DocumentReference?patient=${patient.id}`), 'blocked');
    });

    it('when a blocked professional uses bris de glace, then the block still wins (403 blocked)', async () => {
      await expectRefused(await get(tokens.blockedEmergency, `DocumentReference/${docs.normal.id}`), 'blocked');
      await expectRefused(await get(tokens.blockedEmergency, `DocumentReference?patient=${patient.id}`), 'blocked');
    });

    it('when a blocked professional feeds the DMP, then 403 blocked and nothing is stored', async () => {
      const doc = documentOf(patient.id, { authorId: pros.blocked.practitionerId });
      await expectRefused(await send(tokens.blocked, 'POST', 'DocumentReference', doc), 'blocked');
      const found = await json<Bundle>(await get(await rigSystemToken(rig), `DocumentReference?identifier=${encodeURIComponent(`${doc.identifier?.[0].system}|${doc.identifier?.[0].value}`)}`), 200);
      expect(found.total).to.equal(0);
    });

    it('when the patient records a block through the API, then the professional who read the DMP until then is refused from then on', async () => {
      expect((await get(tokens.laterBlocked, `DocumentReference/${docs.normal.id}`)).status).to.equal(200);
      await json(await send(tokens.patient, 'POST', 'Consent', block(patient.id, practitionerRef(pros.laterBlocked.practitionerId))), 201);
      await expectRefused(await get(tokens.laterBlocked, `DocumentReference/${docs.normal.id}`), 'blocked');
    });
  });

  describe('rule 3: the habilitation matrix', () => {
    it('when an authorised nurse reads a psychiatric synthesis (68599-0), then it is absent: 404 on read, not in the search, not counted in the total', async () => {
      await expectAbsent(await get(tokens.nurse, `DocumentReference/${docs.psychiatric.id}`));
      const bundle = await searchDocs(tokens.nurse, patient.id);
      expect(idsIn(bundle, 'DocumentReference')).to.not.include(docs.psychiatric.id);
      expect(bundle.total).to.equal(idsIn(bundle, 'DocumentReference').length);
      const doctor = await searchDocs(tokens.authorised, patient.id);
      expect(idsIn(doctor, 'DocumentReference')).to.include(docs.psychiatric.id);
      expect(bundle.total).to.be.lessThan(doctor.total as number);
    });

    it('when the same nurse reads a consultation note (11488-4), then it is served', async () => {
      expect((await json<Doc>(await get(tokens.nurse, `DocumentReference/${docs.normal.id}`), 200)).id).to.equal(docs.normal.id);
      expect(idsIn(await searchDocs(tokens.nurse, patient.id), 'DocumentReference')).to.include(docs.normal.id);
    });

    it('when an authorised professional has a profession the matrix does not know, then the whole DMP is refused (403 unknown-profession)', async () => {
      await expectRefused(await get(tokens.unknownProfession, `DocumentReference/${docs.normal.id}`), 'unknown-profession');
      await expectRefused(await get(tokens.unknownProfession, `DocumentReference?patient=${patient.id}`), 'unknown-profession');
    });
  });

  describe('rule 4: visibility labels', () => {
    it('when an authorised professional reads a MASQUE_PS document, then it is absent (404, not listed, not counted)', async () => {
      await expectAbsent(await get(tokens.authorised, `DocumentReference/${docs.masked.id}`));
      const bundle = await searchDocs(tokens.authorised, patient.id);
      expect(idsIn(bundle, 'DocumentReference')).to.not.include(docs.masked.id);
      expect(bundle.total).to.equal(idsIn(bundle, 'DocumentReference').length);
    });

    it('when the author of the MASQUE_PS document reads it, then it is served and listed', async () => {
      expect((await json<Doc>(await get(tokens.author, `DocumentReference/${docs.masked.id}`), 200)).id).to.equal(docs.masked.id);
      expect(idsIn(await searchDocs(tokens.author, patient.id), 'DocumentReference')).to.include(docs.masked.id);
    });

    it('when a professional holds extended rights (Consent permit with securityLabel MASQUE_PS), then they read the masked document', async () => {
      expect((await json<Doc>(await get(tokens.extended, `DocumentReference/${docs.masked.id}`), 200)).id).to.equal(docs.masked.id);
      expect(idsIn(await searchDocs(tokens.extended, patient.id), 'DocumentReference')).to.include(docs.masked.id);
    });

    it('when the patient reads a recent INVISIBLE_PATIENT document, then it is absent for them, while an authorised professional reads it', async () => {
      await expectAbsent(await get(tokens.patient, `DocumentReference/${docs.invisibleRecent.id}`));
      const bundle = await searchDocs(tokens.patient, patient.id);
      expect(idsIn(bundle, 'DocumentReference')).to.not.include(docs.invisibleRecent.id);
      expect(bundle.total).to.equal(idsIn(bundle, 'DocumentReference').length);
      expect((await json<Doc>(await get(tokens.authorised, `DocumentReference/${docs.invisibleRecent.id}`), 200)).id).to.equal(docs.invisibleRecent.id);
    });

    it('when an INVISIBLE_PATIENT document was deposited today with a date long past, then it stays absent for the patient (the delay counts from the deposit)', async () => {
      await expectAbsent(await get(tokens.patient, `DocumentReference/${docs.invisibleBackdated.id}`));
      expect(idsIn(await searchDocs(tokens.patient, patient.id), 'DocumentReference')).to.not.include(docs.invisibleBackdated.id);
    });

    it('when an INVISIBLE_PATIENT document was deposited longer ago than the delay, then the patient reads it and finds it', async () => {
      expect((await json<Doc>(await get(tokens.patient, `DocumentReference/${docs.invisibleOld.id}`), 200)).id).to.equal(docs.invisibleOld.id);
      expect(idsIn(await searchDocs(tokens.patient, patient.id), 'DocumentReference')).to.include(docs.invisibleOld.id);
    });

    it('when the legal representative reads an INVISIBLE_REPRESENTANTS_LEGAUX document of the minor, then it is absent for them, while the minor and an authorised professional read it', async () => {
      await expectAbsent(await get(tokens.representative, `DocumentReference/${minorDocs.hiddenFromRepresentatives.id}`));
      const bundle = await searchDocs(tokens.representative, minor.id);
      expect(idsIn(bundle, 'DocumentReference')).to.deep.equal([minorDocs.normal.id]);
      expect(bundle.total).to.equal(1);
      expect((await json<Doc>(await get(tokens.minor, `DocumentReference/${minorDocs.hiddenFromRepresentatives.id}`), 200)).id).to.equal(minorDocs.hiddenFromRepresentatives.id);
      expect((await json<Doc>(await get(tokens.authorised, `DocumentReference/${minorDocs.hiddenFromRepresentatives.id}`), 200)).id).to.equal(minorDocs.hiddenFromRepresentatives.id);
    });
  });

  describe('rule 5: the médecin traitant', () => {
    it('when the patient names a professional médecin traitant (PUT Patient.generalPractitioner), then that professional reads the DMP, masked documents included', async () => {
      await expectRefused(await get(tokens.traitant, `DocumentReference/${docs.masked.id}`), 'not-authorised');
      const current = await json<Patient>(await get(tokens.patient, `Patient/${patient.id}`), 200);
      await json(await send(tokens.patient, 'PUT', `Patient/${patient.id}`, { ...current, generalPractitioner: [practitionerRef(pros.traitant.practitionerId)] }), 200);
      expect((await json<Doc>(await get(tokens.traitant, `DocumentReference/${docs.masked.id}`), 200)).id).to.equal(docs.masked.id);
      const ids = idsIn(await searchDocs(tokens.traitant, patient.id), 'DocumentReference');
      expect(ids).to.include.members([docs.masked.id, docs.normal.id, docs.psychiatric.id]);
    });
  });

  describe('rule 6: emergency access', () => {
    it('when an unauthorised médecin uses bris de glace (with a reason), then they read the DMP but still not the masked document', async () => {
      expect((await json<Doc>(await get(tokens.emergency, `DocumentReference/${docs.normal.id}`), 200)).id).to.equal(docs.normal.id);
      await expectAbsent(await get(tokens.emergency, `DocumentReference/${docs.masked.id}`));
      const ids = idsIn(await searchDocs(tokens.emergency, patient.id), 'DocumentReference');
      expect(ids).to.include(docs.normal.id);
      expect(ids).to.not.include(docs.masked.id);
    });

    it('when the patient opposed bris de glace (Consent deny ETREAT coded bris_de_glace), then bris de glace is refused (403 emergency-opposed) but centre 15 is not', async () => {
      await expectRefused(await get(tokens.emergency, `DocumentReference?patient=${opposedBdg.id}`), 'emergency-opposed');
      await expectRefused(await get(tokens.emergency, `Patient/${opposedBdg.id}`), 'emergency-opposed');
      expect((await searchDocs(tokens.regulator, opposedBdg.id)).total).to.equal(1);
    });

    it('when the patient opposed centre 15 only, then the SAMU regulator is refused (403 emergency-opposed) but bris de glace is not', async () => {
      await expectRefused(await get(tokens.regulator, `DocumentReference?patient=${opposedC15.id}`), 'emergency-opposed');
      expect((await searchDocs(tokens.emergency, opposedC15.id)).total).to.equal(1);
    });

    it('when the SAMU regulator uses centre_15 without authorisation, then they read the DMP (masked document still hidden)', async () => {
      expect((await json<Doc>(await get(tokens.regulator, `DocumentReference/${docs.normal.id}`), 200)).id).to.equal(docs.normal.id);
      await expectAbsent(await get(tokens.regulator, `DocumentReference/${docs.masked.id}`));
    });

    it('when a nurse uses bris de glace, then the matrix still applies: the psychiatric synthesis is absent', async () => {
      expect((await get(tokens.emergencyNurse, `DocumentReference/${docs.normal.id}`)).status).to.equal(200);
      await expectAbsent(await get(tokens.emergencyNurse, `DocumentReference/${docs.psychiatric.id}`));
      expect(idsIn(await searchDocs(tokens.emergencyNurse, patient.id), 'DocumentReference')).to.not.include(docs.psychiatric.id);
    });

    it('when a professional who is not a regulator asks for centre_15, then the login is refused (access_denied)', async () => {
      const launch = await createLaunch(rig, patient.id, rig.clients.publicApp.clientId);
      const outcome = await authorize(rig, { scope: 'launch openid fhirUser patient/*.rs', launch, accessMode: 'centre_15' }, pros.unauthorised.user);
      expect(outcome.kind === 'error' ? outcome.error : outcome.kind).to.equal('access_denied');
    });
  });

  describe('rule 7: author rights', () => {
    let authorDoc: Doc;

    before(async () => {
      authorDoc = await rigCreate(rig, documentOf(patient.id, { authorId: pros.author.practitionerId, title: 'author-own.pdf' }));
    });

    it('when another authorised professional deletes the author\'s document, then 403 not-author and it stays', async () => {
      await expectRefused(await send(tokens.authorised, 'DELETE', `DocumentReference/${authorDoc.id}`), 'not-author');
      expect((await get(tokens.authorised, `DocumentReference/${authorDoc.id}`)).status).to.equal(200);
    });

    it('when another authorised professional changes the document\'s masking, then 403 not-author and the labels stay', async () => {
      await expectRefused(await send(tokens.authorised, 'PUT', `DocumentReference/${authorDoc.id}`, labelled(authorDoc, ['MASQUE_PS'])), 'not-author');
      const current = await json<Doc>(await get(tokens.author, `DocumentReference/${authorDoc.id}`), 200);
      expect(current.securityLabel ?? []).to.deep.equal([]);
    });

    it('when the author masks their own document, then 200 and other professionals no longer see it', async () => {
      await json(await send(tokens.author, 'PUT', `DocumentReference/${authorDoc.id}`, labelled(authorDoc, ['MASQUE_PS'])), 200);
      await expectAbsent(await get(tokens.authorised, `DocumentReference/${authorDoc.id}`));
    });

    it('when the author deletes their own document, then 200 and it reads as deleted', async () => {
      await json(await send(tokens.author, 'DELETE', `DocumentReference/${authorDoc.id}`), 200);
      const res = await get(tokens.author, `DocumentReference/${authorDoc.id}`);
      expect(res.status).to.be.oneOf([404, 410]);
    });

    it('when the patient deletes a document they deposited, then 200; a professional\'s document, then 403 not-author', async () => {
      const own = await json<Doc>(await send(tokens.patient, 'POST', 'DocumentReference', documentOf(patient.id, { type: 'DOCPAT02', author: { reference: `Patient/${patient.id}` } })), 201);
      await json(await send(tokens.patient, 'DELETE', `DocumentReference/${own.id}`), 200);
      await expectRefused(await send(tokens.patient, 'DELETE', `DocumentReference/${docs.normal.id}`), 'not-author');
    });

    it('when a masked document has been deleted by its author, then it still reads as absent (404, not 410) to a professional it was hidden from, and as refused to an unauthorised one', async () => {
      const gone = await rigCreate(rig, documentOf(patient.id, { labels: ['MASQUE_PS'], authorId: pros.author.practitionerId, title: 'gone.pdf' }));
      await json(await send(tokens.author, 'DELETE', `DocumentReference/${gone.id}`), 200);
      expect((await get(tokens.author, `DocumentReference/${gone.id}`)).status).to.equal(410);
      await expectAbsent(await get(tokens.authorised, `DocumentReference/${gone.id}`));
      await expectAbsent(await get(tokens.authorised, `DocumentReference/${gone.id}/_history/2`));
      await expectRefused(await get(tokens.unauthorised, `DocumentReference/${gone.id}`), 'not-authorised');
    });

    it('when a professional who is not authorised deletes the document they fed, then 200 (the author keeps their rights without reading)', async () => {
      const fed = await json<Doc>(await send(tokens.unauthorised, 'POST', 'DocumentReference', documentOf(patient.id, { authorId: pros.unauthorised.practitionerId })), 201);
      await json(await send(tokens.unauthorised, 'DELETE', `DocumentReference/${fed.id}`), 200);
    });
  });

  describe('rule 8: the patient and the legal representative', () => {
    let toMask: Doc;

    before(async () => {
      toMask = await rigCreate(rig, documentOf(patient.id, { authorId: pros.author.practitionerId, title: 'to-mask.pdf' }));
    });

    it('when the patient masks a document (PUT adding MASQUE_PS), then 200 and an authorised professional no longer sees it; unmasking brings it back', async () => {
      expect((await get(tokens.authorised, `DocumentReference/${toMask.id}`)).status).to.equal(200);
      const masked = await json<Doc>(await send(tokens.patient, 'PUT', `DocumentReference/${toMask.id}`, labelled(toMask, ['MASQUE_PS'])), 200);
      await expectAbsent(await get(tokens.authorised, `DocumentReference/${toMask.id}`));
      expect(idsIn(await searchDocs(tokens.authorised, patient.id), 'DocumentReference')).to.not.include(toMask.id);
      await json(await send(tokens.patient, 'PUT', `DocumentReference/${toMask.id}`, labelled(masked, [])), 200);
      expect((await get(tokens.authorised, `DocumentReference/${toMask.id}`)).status).to.equal(200);
    });

    it('when the patient deposits their own document (DOCPAT type), then 201; another document type is refused (403 patient-document-types-only)', async () => {
      const own = documentOf(patient.id, { type: 'DOCPAT01', author: { reference: `Patient/${patient.id}` } });
      await json(await send(tokens.patient, 'POST', 'DocumentReference', own), 201);
      await expectRefused(await send(tokens.patient, 'POST', 'DocumentReference', documentOf(patient.id, { type: CONSULT_NOTE })), 'patient-document-types-only');
    });

    it('when the legal representative of a minor reads the minor\'s DMP, then they read the Patient and its documents', async () => {
      expect((await json<Patient>(await get(tokens.representative, `Patient/${minor.id}`), 200)).id).to.equal(minor.id);
      expect((await json<Doc>(await get(tokens.representative, `DocumentReference/${minorDocs.normal.id}`), 200)).id).to.equal(minorDocs.normal.id);
    });

    it("when a legal representative logs in directly (standalone), then they choose between their own record and the minor's, and the token is for the chosen one", async () => {
      const outcome = await authorize(rig, { scope: 'openid fhirUser launch/patient patient/*.rs' }, patientUser(rig, parent));
      expect(outcome.kind, JSON.stringify(outcome.kind === 'page' ? outcome.page.url.href : outcome.kind)).to.equal('picker');
      const picker = outcome as Extract<typeof outcome, { kind: 'picker' }>;
      expect(picker.html).to.contain('Choisir le dossier');
      expect(pickerChoices(picker.html)).to.have.members([parent.id, minor.id]);
      const chosen = await pickerChoose(rig, picker, minor.id);
      expect(chosen.kind).to.equal('code');
      const answer = await redeemCode(rig, (chosen as Extract<typeof chosen, { kind: 'code' }>).code, picker.verifier);
      expect(answer.body.patient).to.equal(minor.id);
      const token = answer.body.access_token as string;
      expect((await json<Doc>(await get(token, `DocumentReference/${minorDocs.normal.id}`), 200)).id).to.equal(minorDocs.normal.id);
      await expectAbsent(await get(token, `DocumentReference/${minorDocs.hiddenFromRepresentatives.id}`));
    });

    it('when a legal representative picks a record that is neither theirs nor a represented minor\'s, then access_denied; a patient who represents no one is not asked', async () => {
      const outcome = await authorize(rig, { scope: 'openid fhirUser launch/patient patient/*.rs' }, patientUser(rig, parent));
      const refused = await pickerChoose(rig, outcome as Extract<typeof outcome, { kind: 'picker' }>, patient.id);
      expect(refused.kind).to.equal('error');
      expect((refused as Extract<typeof refused, { kind: 'error' }>).error).to.equal('access_denied');
      const plain = await authorize(rig, { scope: 'openid fhirUser launch/patient patient/*.rs' }, patientUser(rig, patient));
      expect(plain.kind).to.equal('code');
    });

    it('when a legal representative tries to launch on the record of an adult they are linked to, then the login is refused', async () => {
      const adultChild = await dmpPatient(rig, { birthDate: '1990-03-03' });
      const representative = await dmpPatient(rig);
      await legalRepresentative(rig, adultChild.id, representative);
      const launch = await createLaunch(rig, adultChild.id, rig.clients.publicApp.clientId);
      const outcome = await authorize(rig, { scope: 'launch openid fhirUser patient/*.rs', launch }, patientUser(rig, representative));
      expect(outcome.kind === 'error' ? outcome.error : outcome.kind).to.equal('access_denied');
    });

    it('when a professional (not the author) tries to unmask a document the patient masked, then 403 not-author', async () => {
      await expectRefused(await send(tokens.extended, 'PUT', `DocumentReference/${docs.masked.id}`, labelled(docs.masked, [])), 'not-author');
    });

    it("when the patient masks a professional's document and changes its content in the same PUT, then 403 not-author and nothing changes", async () => {
      const current = await json<Doc>(await get(tokens.patient, `DocumentReference/${docs.normal.id}`), 200);
      const rewritten = { ...labelled(current, ['MASQUE_PS']), description: 'rewritten by the patient' };
      await expectRefused(await send(tokens.patient, 'PUT', `DocumentReference/${docs.normal.id}`, rewritten), 'not-author');
      const after = await json<Doc>(await get(tokens.patient, `DocumentReference/${docs.normal.id}`), 200);
      expect(after.meta?.versionId).to.equal(current.meta?.versionId);
      expect(after.description).to.equal(current.description);
    });
  });

  describe('rule 9: closed DMP', () => {
    it('when an authorised professional reads or feeds a closed DMP (Patient.active = false), then 403 dmp-closed', async () => {
      await expectRefused(await get(tokens.authorised, `DocumentReference/${closedDoc.id}`), 'dmp-closed');
      await expectRefused(await get(tokens.authorised, `DocumentReference?patient=${closed.id}`), 'dmp-closed');
      await expectRefused(await send(tokens.authorised, 'POST', 'DocumentReference', documentOf(closed.id, { authorId: pros.authorised.practitionerId })), 'dmp-closed');
    });

    it('when the patient reads their closed DMP, then they still read it', async () => {
      expect((await json<Patient>(await get(tokens.closedPatient, `Patient/${closed.id}`), 200)).active).to.equal(false);
      expect((await json<Doc>(await get(tokens.closedPatient, `DocumentReference/${closedDoc.id}`), 200)).id).to.equal(closedDoc.id);
    });
  });

  describe('conditional create (If-None-Exist) does not reveal what the caller may not read', () => {
    const conditional = (token: string, body: DocumentReference, criteria: string): Promise<Response> =>
      rigFetch(rig, 'DocumentReference', token, { method: 'POST', headers: { 'if-none-exist': criteria }, body: JSON.stringify(body) });

    it('when an authorised médecin\'s criteria match a document they read, then 200 with that document (nothing created)', async () => {
      const found = await json<Doc>(await conditional(tokens.authorised, documentOf(patient.id, { authorId: pros.authorised.practitionerId }), `_id=${docs.normal.id}`), 200);
      expect(found.id).to.equal(docs.normal.id);
    });

    it('when a nurse\'s criteria match only the psychiatric synthesis, then it is not returned (the match behaves as absent)', async () => {
      const res = await conditional(tokens.nurse, documentOf(patient.id, { authorId: pros.nurse.practitionerId }), `_id=${docs.psychiatric.id}`);
      const body = (await res.json()) as Doc;
      expect(body.id, 'the hidden document must not come back').to.not.equal(docs.psychiatric.id);
      expect(res.status).to.equal(201);
    });

    it('when an unauthorised professional feeds with criteria matching an existing document, then that document is not returned', async () => {
      const res = await conditional(tokens.unauthorised, documentOf(patient.id, { authorId: pros.unauthorised.practitionerId }), `_id=${docs.masked.id}`);
      const body = (await res.json()) as Doc;
      expect(body.id, 'the masked document must not come back').to.not.equal(docs.masked.id);
      expect(res.status).to.equal(201);
    });

    it('when the patient deposits with criteria matching a recent INVISIBLE_PATIENT document, then that document is not returned', async () => {
      const own = documentOf(patient.id, { type: 'DOCPAT03', author: { reference: `Patient/${patient.id}` } });
      const res = await conditional(tokens.patient, own, `_id=${docs.invisibleRecent.id}`);
      const body = (await res.json()) as Doc;
      expect(body.id, 'the invisible document must not come back').to.not.equal(docs.invisibleRecent.id);
      expect(res.status).to.equal(201);
    });
  });

  describe('system clients: the insurer, a client without a DMP role, the host operator', () => {
    const remb = (patientId: string): DocumentReference => documentOf(patientId, { type: 'REMB', typeSystem: DOC_TYPE_COMPLEMENTARY_SYSTEM, title: 'remboursements.pdf' });
    const insurer = (): Promise<string> => rigSystemToken(rig, 'system/*.cruds', rig.insurer);
    const roleLess = (): Promise<string> => rigSystemToken(rig, 'system/*.cruds', rig.roleLess);

    it('when the insurer feeds a reimbursement document (REMB), then 201; a consultation note, then 403 system-not-allowed and nothing is stored', async () => {
      const token = await insurer();
      const fed = await json<Doc>(await send(token, 'POST', 'DocumentReference', remb(patient.id)), 201);
      expect(fed.id).to.be.a('string');
      const note = documentOf(patient.id, { title: unique('insurer-note-') });
      await expectRefused(await send(token, 'POST', 'DocumentReference', note), 'system-not-allowed');
      const found = await searchDocs(tokens.patient, patient.id);
      expect(found.entry?.map((e) => (e.resource as Doc).content[0].attachment.title)).to.not.include(note.content[0].attachment.title);
    });

    it('when the insurer feeds the same REMB twice with If-None-Exist on its identifier, then the second answer is the first document (200, nothing added); criteria matching a professional\'s document find nothing', async () => {
      const token = await insurer();
      const doc = remb(patient.id);
      const criteria = `identifier=${doc.identifier?.[0].system}|${doc.identifier?.[0].value}`;
      const post = (body: DocumentReference, ifNoneExist: string): Promise<Response> => rigFetch(rig, 'DocumentReference', token, { method: 'POST', headers: { 'if-none-exist': ifNoneExist }, body: JSON.stringify(body) });
      const first = await json<Doc>(await post(doc, criteria), 201);
      const again = await json<Doc>(await post(doc, criteria), 200);
      expect(again.id).to.equal(first.id);
      const other = docs.normal.identifier?.[0];
      const res = await post(remb(patient.id), `identifier=${other?.system}|${other?.value}`);
      expect(res.status, 'a document the insurer may not read is not found by its criteria').to.equal(201);
      expect(((await res.json()) as Doc).id).to.not.equal(docs.normal.id);
    });

    it('when the insurer feeds a closed DMP, then 403 dmp-closed', async () => {
      await expectRefused(await send(await insurer(), 'POST', 'DocumentReference', remb(closed.id)), 'dmp-closed');
    });

    it('when the insurer reads or looks up the record (Patient read, Patient search by INS), then it is served', async () => {
      const token = await insurer();
      expect((await json<Patient>(await get(token, `Patient/${patient.id}`), 200)).id).to.equal(patient.id);
      const found = await json<Bundle>(await get(token, `Patient?identifier=${encodeURIComponent(`${INS_NIR_TEST_SYSTEM}|${patient.ins}`)}`), 200);
      expect(idsIn(found, 'Patient')).to.deep.equal([patient.id]);
    });

    it('when the insurer reads its REMB documents back, then they are served and listed; every other document is absent to it (404, not listed)', async () => {
      const token = await insurer();
      const fed = await json<Doc>(await send(token, 'POST', 'DocumentReference', remb(patient.id)), 201);
      expect((await json<Doc>(await get(token, `DocumentReference/${fed.id}`), 200)).id).to.equal(fed.id);
      await expectAbsent(await get(token, `DocumentReference/${docs.normal.id}`));
      const listed = await searchDocs(token, patient.id);
      expect(idsIn(listed, 'DocumentReference')).to.include(fed.id);
      expect(listed.entry?.every((e) => (e.resource as Doc).type?.coding?.[0]?.code === 'REMB'), 'only REMB documents are listed').to.equal(true);
      expect(listed.total).to.equal(listed.entry?.length);
    });

    it('when the insurer reads consents, traces, representatives or lists, then each is 403 system-not-allowed', async () => {
      const token = await insurer();
      for (const path of [
        `Consent?patient=${patient.id}`,
        `AuditEvent?patient=${patient.id}`,
        `RelatedPerson?patient=${minor.id}`,
        `List?patient=${patient.id}`,
        `Patient/${patient.id}/$verify-audit`,
      ]) {
        await expectRefused(await get(token, path), 'system-not-allowed');
      }
    });

    it('when the insurer changes the Patient, deletes a document or records a Consent, then 403 system-not-allowed and nothing changes', async () => {
      const token = await insurer();
      const { ins: _ins, ...stored } = patient;
      await expectRefused(await send(token, 'PUT', `Patient/${patient.id}`, { ...stored, active: false }), 'system-not-allowed');
      expect((await json<Patient>(await get(tokens.patient, `Patient/${patient.id}`), 200)).active).to.not.equal(false);
      await expectRefused(await send(token, 'DELETE', `DocumentReference/${docs.normal.id}`), 'system-not-allowed');
      expect((await get(tokens.authorised, `DocumentReference/${docs.normal.id}`)).status).to.equal(200);
      await expectRefused(await send(token, 'POST', 'Consent', authorisation(patient.id, practitionerRef(pros.unauthorised.practitionerId))), 'system-not-allowed');
      await expectRefused(await get(tokens.unauthorised, `DocumentReference/${docs.normal.id}`), 'not-authorised');
    });

    it('when a system client registered without a DMP role reads, searches or feeds the DMP, then 403 system-not-allowed; the directory stays open to its scopes', async () => {
      const token = await roleLess();
      await expectRefused(await get(token, `Patient/${patient.id}`), 'system-not-allowed');
      await expectRefused(await get(token, 'Patient?_count=1'), 'system-not-allowed');
      await expectRefused(await get(token, `DocumentReference?patient=${patient.id}`), 'system-not-allowed');
      await expectRefused(await get(token, `DocumentReference/${docs.normal.id}`), 'system-not-allowed');
      await expectRefused(await send(token, 'POST', 'DocumentReference', remb(patient.id)), 'system-not-allowed');
      expect((await get(token, `Practitioner/${pros.authorised.practitionerId}`)).status).to.equal(200);
    });

    it("when the host's operator client reads masked, invisible and closed-record documents, then its scopes alone decide (200), and each access is traced under its client id", async () => {
      const token = await rigSystemToken(rig);
      const requestId = unique('req-operator-');
      expect((await get(token, `DocumentReference/${docs.masked.id}`, { 'x-request-id': requestId })).status).to.equal(200);
      for (const doc of [docs.invisibleRecent, docs.psychiatric, closedDoc, minorDocs.hiddenFromRepresentatives]) {
        expect((await json<Doc>(await get(token, `DocumentReference/${doc.id}`), 200)).id).to.equal(doc.id);
      }
      expect((await get(token, 'DocumentReference?_count=1')).status).to.equal(200);
      const [event] = await auditEventsOf(rig, patient.id, requestId);
      expect(event?.outcome).to.equal('0');
      expect(JSON.stringify(event?.agent)).to.contain(rig.backend.clientId);
    });
  });

  describe('the audit trail of these accesses', () => {
    const requests = {} as Record<'allowed' | 'denied' | 'hidden' | 'emergency' | 'search' | 'invisible' | 'invisibleBinary' | 'invisibleOld' | 'hiddenFromRl', string>;
    let invisibleBinary: string;
    let since: string;

    before(async () => {
      since = new Date(Date.now() - 1000).toISOString();
      for (const key of ['allowed', 'denied', 'hidden', 'emergency', 'search', 'invisible', 'invisibleBinary', 'invisibleOld', 'hiddenFromRl'] as const) {
        requests[key] = unique(`req-${key}-`);
      }
      // Professionals' reads of documents hidden from the patient side (and of one that no longer is).
      invisibleBinary = (await binaryOf(rig, docs.invisibleRecent.id, 'hidden from the patient for now')).id;
      expect((await get(tokens.authorised, `DocumentReference/${docs.invisibleRecent.id}`, { 'x-request-id': requests.invisible })).status).to.equal(200);
      expect((await get(tokens.authorised, `Binary/${invisibleBinary}`, { 'x-request-id': requests.invisibleBinary })).status).to.equal(200);
      expect((await get(tokens.authorised, `DocumentReference/${docs.invisibleOld.id}`, { 'x-request-id': requests.invisibleOld })).status).to.equal(200);
      expect((await get(tokens.authorised, `DocumentReference/${minorDocs.hiddenFromRepresentatives.id}`, { 'x-request-id': requests.hiddenFromRl })).status).to.equal(200);
      expect((await get(tokens.authorised, `DocumentReference/${docs.audited.id}`, { 'x-request-id': requests.allowed })).status).to.equal(200);
      expect((await get(tokens.unauthorised, `DocumentReference/${docs.audited.id}`, { 'x-request-id': requests.denied })).status).to.equal(403);
      expect((await get(tokens.authorised, `DocumentReference/${docs.masked.id}`, { 'x-request-id': requests.hidden })).status).to.equal(404);
      expect((await get(tokens.emergency, `DocumentReference/${docs.audited.id}`, { 'x-request-id': requests.emergency })).status).to.equal(200);
      expect((await get(tokens.nurse, `DocumentReference?patient=${patient.id}`, { 'x-request-id': requests.search })).status).to.equal(200);
    });

    it('when the patient checks their audit chain ($verify-audit), then it is valid; a professional, even authorised, is refused', async () => {
      const mine = await json<{ parameter: { name: string; valueBoolean?: boolean }[] }>(await get(tokens.patient, `Patient/${patient.id}/$verify-audit`), 200);
      expect(mine.parameter.find((p) => p.name === 'valid')?.valueBoolean).to.equal(true);
      expect((await get(tokens.authorised, `Patient/${patient.id}/$verify-audit`)).status).to.equal(403);
    });

    it('when an authorised professional read a document, then one AuditEvent (read, outcome 0) names them, the patient and the document', async () => {
      const [event, ...more] = await auditEventsOf(rig, patient.id, requests.allowed);
      expect(more).to.have.length(0);
      expect(event.outcome).to.equal('0');
      expect(event.action).to.equal('R');
      expect(event.agent?.map((a) => a.who?.reference)).to.include(`Practitioner/${pros.authorised.practitionerId}`);
      expect(event.entity?.map((e) => e.what?.reference)).to.include.members([`Patient/${patient.id}`, `DocumentReference/${docs.audited.id}`]);
    });

    it('when an unauthorised professional was refused, then the AuditEvent says outcome 4 with the reason not-authorised', async () => {
      const [event] = await auditEventsOf(rig, patient.id, requests.denied);
      expect(event.outcome).to.equal('4');
      expect(event.outcomeDesc).to.contain('not-authorised');
      expect(event.agent?.map((a) => a.who?.reference)).to.include(`Practitioner/${pros.unauthorised.practitionerId}`);
    });

    it('when a hidden (masked) document was asked for, then the refusal is traced too (outcome 4)', async () => {
      const [event] = await auditEventsOf(rig, patient.id, requests.hidden);
      expect(event.outcome).to.equal('4');
      expect(event.entity?.map((e) => e.what?.reference)).to.include(`DocumentReference/${docs.masked.id}`);
    });

    it('when a professional read in bris de glace, then the AuditEvent carries the mode (ETREAT, bris_de_glace) and the reason in agent.purposeOfUse', async () => {
      const [event] = await auditEventsOf(rig, patient.id, requests.emergency);
      expect(event.outcome).to.equal('0');
      const user = event.agent?.find((a) => a.who?.reference === `Practitioner/${pros.emergency.practitionerId}`);
      const purpose = user?.purposeOfUse?.[0];
      expect(purpose?.coding?.map((c) => c.code)).to.include.members(['ETREAT', 'bris_de_glace']);
      expect(purpose?.text).to.equal('Patient inconscient aux urgences');
    });

    it('when a professional searched the record, then one AuditEvent (search-type) is written for the patient', async () => {
      const events = await auditEventsOf(rig, patient.id, requests.search);
      expect(events).to.have.length(1);
      expect(events[0].subtype?.[0].code).to.equal('search-type');
      expect(events[0].outcome).to.equal('0');
    });

    it('when the patient searches their traces (AuditEvent?patient=own id), then they find who accessed their DMP, the emergency access and the refusal included', async () => {
      const bundle = await json<Bundle<AuditEvent>>(await get(tokens.patient, `AuditEvent?patient=${patient.id}&entity=DocumentReference/${docs.audited.id}&_count=100`), 200);
      const events = (bundle.entry ?? []).map((e) => e.resource as AuditEvent);
      const byRequest = (id: string): AuditEvent | undefined => events.find((e) => e.entity?.some((en) => en.what?.identifier?.value === `urn:x-request-id:${id}`));
      expect(byRequest(requests.allowed)?.outcome).to.equal('0');
      expect(byRequest(requests.denied)?.outcome).to.equal('4');
      const emergency = byRequest(requests.emergency);
      expect(emergency?.agent?.some((a) => a.purposeOfUse?.some((p) => p.coding?.some((c) => c.code === 'bris_de_glace')))).to.equal(true);
    });

    it('when a trace names a document still hidden from the patient (INVISIBLE_PATIENT, directly or through its Binary), then the patient neither finds nor reads it, nor counts it', async () => {
      const [docRead] = await auditEventsOf(rig, patient.id, requests.invisible);
      const [binaryRead] = await auditEventsOf(rig, patient.id, requests.invisibleBinary);
      expect(docRead?.entity?.map((e) => e.what?.reference)).to.include(`DocumentReference/${docs.invisibleRecent.id}`);
      expect(binaryRead?.entity?.map((e) => e.what?.reference)).to.include(`Binary/${invisibleBinary}`);
      for (const entity of [`DocumentReference/${docs.invisibleRecent.id}`, `Binary/${invisibleBinary}`]) {
        const named = await json<Bundle<AuditEvent>>(await get(tokens.patient, `AuditEvent?patient=${patient.id}&entity=${entity}`), 200);
        expect(named.total, entity).to.equal(0);
        expect(named.entry ?? []).to.have.length(0);
      }
      await expectAbsent(await get(tokens.patient, `AuditEvent/${docRead.id}`));
      await expectAbsent(await get(tokens.patient, `AuditEvent/${binaryRead.id}`));
      // Every page of the patient's trail: the total counts what the pages list (each page's own
      // trace, written after it, comes last in the next pages: one more per page fetched after the first).
      const ids: string[] = [];
      let page = await json<Bundle<AuditEvent>>(await get(tokens.patient, `AuditEvent?patient=${patient.id}&_count=100`), 200);
      const total = page.total;
      let pages = 1;
      for (;;) {
        ids.push(...idsIn(page, 'AuditEvent'));
        const next = page.link?.find((l) => l.relation === 'next')?.url;
        if (!next) break;
        page = await json<Bundle<AuditEvent>>(await get(tokens.patient, next.slice(next.indexOf('/fhir/') + '/fhir/'.length)), 200);
        pages += 1;
      }
      expect(ids.length).to.equal((total ?? NaN) + pages - 1);
      expect(ids).to.not.include(docRead.id);
      expect(ids).to.not.include(binaryRead.id);
      const everything = await json<Bundle>(await get(tokens.patient, `Patient/${patient.id}/$everything?_type=AuditEvent&_since=${encodeURIComponent(since)}&_count=100`), 200);
      expect(everything.link?.some((l) => l.relation === 'next'), 'one page holds these traces').to.equal(false);
      const [visibleRead] = await auditEventsOf(rig, patient.id, requests.invisibleOld);
      expect(idsIn(everything, 'AuditEvent')).to.include(visibleRead.id);
      expect(idsIn(everything, 'AuditEvent')).to.not.include.members([docRead.id]);
      expect(idsIn(everything, 'AuditEvent')).to.not.include.members([binaryRead.id]);
    });

    it('when the document named by a trace is visible to the patient (INVISIBLE_PATIENT past the delay), then the patient reads that trace', async () => {
      const [event] = await auditEventsOf(rig, patient.id, requests.invisibleOld);
      const named = await json<Bundle<AuditEvent>>(await get(tokens.patient, `AuditEvent?patient=${patient.id}&entity=DocumentReference/${docs.invisibleOld.id}`), 200);
      expect(idsIn(named, 'AuditEvent')).to.include(event.id);
      expect((await json<AuditEvent>(await get(tokens.patient, `AuditEvent/${event.id}`), 200)).id).to.equal(event.id);
    });

    it('when a trace names an INVISIBLE_REPRESENTANTS_LEGAUX document of the minor, then the legal representative neither finds nor reads it, while the minor does', async () => {
      const [event] = await auditEventsOf(rig, minor.id, requests.hiddenFromRl);
      const search = `AuditEvent?patient=${minor.id}&entity=DocumentReference/${minorDocs.hiddenFromRepresentatives.id}`;
      expect((await json<Bundle<AuditEvent>>(await get(tokens.representative, search), 200)).total).to.equal(0);
      await expectAbsent(await get(tokens.representative, `AuditEvent/${event.id}`));
      expect(idsIn(await json<Bundle<AuditEvent>>(await get(tokens.minor, search), 200), 'AuditEvent')).to.include(event.id);
      expect((await json<AuditEvent>(await get(tokens.minor, `AuditEvent/${event.id}`), 200)).id).to.equal(event.id);
    });

    it('when a professional searches the patient\'s AuditEvents, then they see only their own traces, and another\'s trace reads as absent', async () => {
      const bundle = await json<Bundle<AuditEvent>>(await get(tokens.authorised, `AuditEvent?patient=${patient.id}&_count=100`), 200);
      const events = (bundle.entry ?? []).map((e) => e.resource as AuditEvent);
      expect(events.length).to.be.greaterThan(0);
      for (const event of events) {
        expect(event.agent?.map((a) => a.who?.reference), JSON.stringify(event.agent)).to.include(`Practitioner/${pros.authorised.practitionerId}`);
      }
      const [others] = await auditEventsOf(rig, patient.id, requests.emergency);
      await expectAbsent(await get(tokens.authorised, `AuditEvent/${others.id}`));
    });
  });
});
