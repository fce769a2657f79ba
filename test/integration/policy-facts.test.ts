import { expect } from 'chai';
import type {
  Consent,
  ConsentProvision,
  DocumentReference,
  Organization,
  Patient,
  Practitioner,
  PractitionerRole,
  RelatedPerson,
  Resource,
} from '@medplum/fhirtypes';
import {
  ACCESS_MODE_SYSTEM,
  ACT_CODE_SYSTEM,
  ACT_REASON_SYSTEM,
  CONSENT_SCOPE_SYSTEM,
  DMP_CLOSURE_EXTENSION_URL,
  FINESS_SYSTEM,
  IDNPS_SYSTEM,
  IDNST_SYSTEM,
  INS_NIR_TEST_SYSTEM,
  LOINC_SYSTEM,
  PARTICIPATION_TYPE_SYSTEM,
  V3_ROLE_CODE_SYSTEM,
  VISIBILITY_SYSTEM,
} from '../../src/dmp/identifiers.js';
import type { PatientFacts } from '../../src/policy/decide.js';
import { consentFactsFromDb, documentFactsFromDb, loadPatientFacts } from '../../src/policy/facts.js';
import { ResourceRepo } from '../../src/repo/resource-repo.js';
import { fhirFetch, randomTestIns, testPatient, unique } from '../helpers/fhir.js';
import { testDocumentReference, testPractitioner } from '../helpers/resources.js';
import { getTestServer } from '../helpers/server.js';

const NOW = new Date('2025-06-01T12:00:00.000Z');
const IRCP = { coding: [{ system: PARTICIPATION_TYPE_SYSTEM, code: 'IRCP' }] };
const TREAT = { system: ACT_REASON_SYSTEM, code: 'TREAT' };
const ETREAT = { system: ACT_REASON_SYSTEM, code: 'ETREAT' };

type Stored<T> = T & { id: string };

async function create<T extends Resource>(resource: T): Promise<Stored<T>> {
  const res = await fhirFetch(resource.resourceType, { method: 'POST', body: JSON.stringify(resource) });
  const text = await res.text();
  expect(res.status, `${resource.resourceType}: ${text.slice(0, 600)}`).to.equal(201);
  return JSON.parse(text) as Stored<T>;
}

async function repo(): Promise<ResourceRepo> {
  return new ResourceRepo((await getTestServer()).db);
}

async function factsOf(patientId: string, now = NOW): Promise<PatientFacts> {
  const facts = await loadPatientFacts(await repo(), patientId, now);
  expect(facts, `facts of Patient/${patientId}`).to.not.equal(undefined);
  return facts as PatientFacts;
}

const actor = (reference: string): NonNullable<ConsentProvision['actor']>[number] => ({ role: IRCP, reference: { reference } });

/** A Consent of the DMP profile; `provision` is the root provision. */
function consent(patientId: string, provision: ConsentProvision, overrides: Partial<Consent> = {}): Consent {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: CONSENT_SCOPE_SYSTEM, code: 'patient-privacy' }] },
    category: [{ coding: [{ system: LOINC_SYSTEM, code: '59284-0' }] }],
    patient: { reference: `Patient/${patientId}` },
    dateTime: '2025-01-10T09:00:00+01:00',
    performer: [{ reference: `Patient/${patientId}` }],
    policyRule: { coding: [{ system: ACT_CODE_SYSTEM, code: provision.type === 'deny' ? 'OPTOUT' : 'OPTIN' }] },
    provision,
    ...overrides,
  };
}

const authorisation = (patientId: string, reference: string, period?: ConsentProvision['period']): Consent =>
  consent(patientId, { type: 'permit', actor: [actor(reference)], purpose: [TREAT], ...(period ? { period } : {}) });
const block = (patientId: string, reference: string): Consent => consent(patientId, { type: 'deny', actor: [actor(reference)] });
const opposition = (patientId: string, mode?: string): Consent =>
  consent(patientId, { type: 'deny', purpose: [ETREAT], ...(mode ? { code: [{ coding: [{ system: ACCESS_MODE_SYSTEM, code: mode }] }] } : {}) });

function finess(): string {
  return `9${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
}

function organization(finessValue = finess()): Organization {
  return {
    resourceType: 'Organization',
    identifier: [
      { system: FINESS_SYSTEM, value: finessValue },
      { system: IDNST_SYSTEM, value: `1${finessValue}` },
    ],
    name: unique('Clinique '),
  };
}

/** A practitioner with a unique IDNPS (`8` + 11 digits). */
function practitionerWithIdnps(): Practitioner {
  const idnps = `8${String(Math.floor(Math.random() * 1e11)).padStart(11, '0')}`;
  return { ...testPractitioner(), identifier: [{ system: IDNPS_SYSTEM, value: idnps }] };
}

function representative(patientId: string, overrides: Partial<RelatedPerson> = {}): RelatedPerson {
  return {
    resourceType: 'RelatedPerson',
    active: true,
    patient: { reference: `Patient/${patientId}` },
    relationship: [{ coding: [{ system: V3_ROLE_CODE_SYSTEM, code: 'PRN', display: 'parent' }] }],
    name: [{ family: unique('Parent') }],
    ...overrides,
  };
}

/** The same calendar date `years` earlier, as a FHIR date (NOW is 2025-06-01 in Paris too). */
function yearsBefore(years: number, dayOffset = 0): string {
  const d = new Date(Date.UTC(2025 - years, 5, 1 + dayOffset));
  return d.toISOString().slice(0, 10);
}

describe('policy facts from the database (loadPatientFacts, documentFactsFromDb, consentFactsFromDb)', () => {
  let doctor: Stored<Practitioner>;
  let nurse: Stored<Practitioner>;

  before(async () => {
    doctor = await create(testPractitioner());
    nurse = await create(testPractitioner());
  });

  describe('the DMP itself', () => {
    it('when the Patient does not exist, then there are no facts', async () => {
      expect(await loadPatientFacts(await repo(), unique('nobody'), NOW)).to.equal(undefined);
    });

    it('when the Patient was deleted, then there are no facts', async () => {
      const patient = await create(testPatient());
      expect((await fhirFetch(`Patient/${patient.id}`, { method: 'DELETE' })).status).to.equal(200);
      expect(await loadPatientFacts(await repo(), patient.id, NOW)).to.equal(undefined);
    });

    it('when an adult has an open DMP without any Consent, then nothing is authorised, blocked or opposed', async () => {
      const patient = await create(testPatient({ active: true, birthDate: '1980-04-12' }));
      expect(await factsOf(patient.id)).to.deep.equal({
        patientId: patient.id,
        closed: false,
        authorised: { practitionerIds: [], organizationIds: [] },
        blocked: { practitionerIds: [], organizationIds: [] },
        emergencyOpposition: { brisDeGlace: false, centre15: false },
        medecinTraitantIds: [],
        extendedRightsIds: [],
        legalRepresentativeIds: [],
        isMinor: false,
      });
    });

    it('when Patient.active is false, then the DMP is closed', async () => {
      const patient = await create(testPatient({ active: false }));
      expect((await factsOf(patient.id)).closed).to.equal(true);
    });

    it('when Patient.active is absent and a closure extension dated in the past is present, then the DMP is closed', async () => {
      const extension = [{ url: DMP_CLOSURE_EXTENSION_URL, extension: [{ url: 'dateFermeture', valueDate: '2025-05-01' }] }];
      const patient = await create(testPatient({ extension: [...(testPatient().extension ?? []), ...extension] }));
      expect((await factsOf(patient.id)).closed).to.equal(true);
    });

    it('when the closure extension is dated after now, then the DMP is still open', async () => {
      const extension = [{ url: DMP_CLOSURE_EXTENSION_URL, extension: [{ url: 'dateFermeture', valueDate: '2025-07-01' }] }];
      const patient = await create(testPatient({ extension: [...(testPatient().extension ?? []), ...extension] }));
      expect((await factsOf(patient.id)).closed).to.equal(false);
    });

    it('when the Patient is 10 years old, then it is a minor', async () => {
      const patient = await create(testPatient({ birthDate: yearsBefore(10) }));
      expect((await factsOf(patient.id)).isMinor).to.equal(true);
    });

    it('when the Patient turns 18 today, then it is no longer a minor, and was one the day before', async () => {
      const patient = await create(testPatient({ birthDate: yearsBefore(18) }));
      expect((await factsOf(patient.id)).isMinor).to.equal(false);
      expect((await factsOf(patient.id, new Date(NOW.getTime() - 86_400_000))).isMinor).to.equal(true);
    });
  });

  describe('médecin traitant', () => {
    it('when generalPractitioner names a Practitioner and a PractitionerRole, then both practitioners are médecin traitant', async () => {
      const org = await create(organization());
      const role = await create<PractitionerRole>({ resourceType: 'PractitionerRole', practitioner: { reference: `Practitioner/${nurse.id}` }, organization: { reference: `Organization/${org.id}` } });
      const patient = await create(testPatient({ generalPractitioner: [{ reference: `Practitioner/${doctor.id}` }, { reference: `PractitionerRole/${role.id}` }, { reference: `Organization/${org.id}` }] }));
      expect((await factsOf(patient.id)).medecinTraitantIds).to.have.members([doctor.id, nurse.id]);
    });

    it('when generalPractitioner names a professional by IDNPS identifier, then the Practitioner with that IDNPS is médecin traitant', async () => {
      const gp = await create(practitionerWithIdnps());
      const patient = await create(testPatient({ generalPractitioner: [{ identifier: gp.identifier?.[0] }] }));
      expect((await factsOf(patient.id)).medecinTraitantIds).to.deep.equal([gp.id]);
    });
  });

  describe('authorisations (permit, TREAT)', () => {
    it('when an active permit TREAT names a Practitioner with a current period, then that practitioner is authorised', async () => {
      const patient = await create(testPatient());
      await create(authorisation(patient.id, `Practitioner/${doctor.id}`, { start: '2025-01-01', end: '2025-12-31' }));
      expect((await factsOf(patient.id)).authorised).to.deep.equal({ practitionerIds: [doctor.id], organizationIds: [] });
    });

    it('when the permit period ended before now, then nobody is authorised', async () => {
      const patient = await create(testPatient());
      await create(authorisation(patient.id, `Practitioner/${doctor.id}`, { start: '2024-01-01', end: '2025-05-31T23:59:59Z' }));
      expect((await factsOf(patient.id)).authorised.practitionerIds).to.deep.equal([]);
    });

    it('when the permit period starts after now, then nobody is authorised yet, and the practitioner is once it has started', async () => {
      const patient = await create(testPatient());
      await create(authorisation(patient.id, `Practitioner/${doctor.id}`, { start: '2025-06-02' }));
      expect((await factsOf(patient.id)).authorised.practitionerIds).to.deep.equal([]);
      expect((await factsOf(patient.id, new Date('2025-06-02T00:00:00Z'))).authorised.practitionerIds).to.deep.equal([doctor.id]);
    });

    it('when the period ends on a date, then the permit lasts the whole of that day', async () => {
      const patient = await create(testPatient());
      await create(authorisation(patient.id, `Practitioner/${doctor.id}`, { end: '2025-06-01' }));
      expect((await factsOf(patient.id)).authorised.practitionerIds).to.deep.equal([doctor.id]);
      expect((await factsOf(patient.id, new Date('2025-06-02T00:00:00Z'))).authorised.practitionerIds).to.deep.equal([]);
    });

    it('when the Consent is inactive, or was deleted, then it authorises nobody', async () => {
      const patient = await create(testPatient());
      await create({ ...authorisation(patient.id, `Practitioner/${doctor.id}`), status: 'inactive' });
      const deleted = await create(authorisation(patient.id, `Practitioner/${nurse.id}`));
      expect((await fhirFetch(`Consent/${deleted.id}`, { method: 'DELETE' })).status).to.equal(200);
      expect((await factsOf(patient.id)).authorised.practitionerIds).to.deep.equal([]);
    });

    it('when a permit has no TREAT purpose, then it is no authorisation', async () => {
      const patient = await create(testPatient());
      await create(consent(patient.id, { type: 'permit', actor: [actor(`Practitioner/${doctor.id}`)] }));
      expect((await factsOf(patient.id)).authorised.practitionerIds).to.deep.equal([]);
    });

    it('when the actor is a PractitionerRole, then its practitioner is authorised', async () => {
      const role = await create<PractitionerRole>({ resourceType: 'PractitionerRole', practitioner: { reference: `Practitioner/${nurse.id}` } });
      const patient = await create(testPatient());
      await create(authorisation(patient.id, `PractitionerRole/${role.id}`));
      expect((await factsOf(patient.id)).authorised.practitionerIds).to.deep.equal([nurse.id]);
    });

    it('when the actor is an Organization, then its structure ids (IDNST and FINESS) are authorised', async () => {
      const code = finess();
      const org = await create(organization(code));
      const patient = await create(testPatient());
      await create(authorisation(patient.id, `Organization/${org.id}`));
      expect((await factsOf(patient.id)).authorised).to.deep.equal({ practitionerIds: [], organizationIds: [`1${code}`, code].sort() });
    });

    it('when the actor is given by IDNPS identifier, then the Practitioner with that IDNPS is authorised', async () => {
      const pro = await create(practitionerWithIdnps());
      const patient = await create(testPatient());
      await create(consent(patient.id, { type: 'permit', purpose: [TREAT], actor: [{ role: IRCP, reference: { identifier: pro.identifier?.[0] } }] }));
      expect((await factsOf(patient.id)).authorised.practitionerIds).to.deep.equal([pro.id]);
    });
  });

  describe('blocks (deny naming a professional)', () => {
    it('when a practitioner is both authorised and blocked, then both are reported', async () => {
      const patient = await create(testPatient());
      await create(authorisation(patient.id, `Practitioner/${doctor.id}`));
      await create(block(patient.id, `Practitioner/${doctor.id}`));
      await create(block(patient.id, `Practitioner/${nurse.id}`));
      const facts = await factsOf(patient.id);
      expect(facts.authorised.practitionerIds).to.deep.equal([doctor.id]);
      expect(facts.blocked.practitionerIds).to.have.members([doctor.id, nurse.id]);
    });

    it('when a structure is blocked, then its structure ids are blocked', async () => {
      const code = finess();
      const org = await create(organization(code));
      const patient = await create(testPatient());
      await create(block(patient.id, `Organization/${org.id}`));
      expect((await factsOf(patient.id)).blocked.organizationIds).to.have.members([code, `1${code}`]);
    });

    it('when a block is inactive, then nobody is blocked', async () => {
      const patient = await create(testPatient());
      await create({ ...block(patient.id, `Practitioner/${doctor.id}`), status: 'inactive' });
      expect((await factsOf(patient.id)).blocked.practitionerIds).to.deep.equal([]);
    });

    it('when the blocked PractitionerRole was deleted since, then its practitioner stays blocked', async () => {
      const role = await create<PractitionerRole>({ resourceType: 'PractitionerRole', practitioner: { reference: `Practitioner/${nurse.id}` } });
      const patient = await create(testPatient());
      await create(block(patient.id, `PractitionerRole/${role.id}`));
      await create(authorisation(patient.id, `PractitionerRole/${role.id}`));
      expect((await fhirFetch(`PractitionerRole/${role.id}`, { method: 'DELETE' })).status).to.equal(200);
      const facts = await factsOf(patient.id);
      expect(facts.blocked.practitionerIds).to.deep.equal([nurse.id]);
      expect(facts.authorised.practitionerIds).to.deep.equal([]);
    });

    it('when a nested deny inside a permit names a practitioner, then that practitioner is blocked', async () => {
      const patient = await create(testPatient());
      await create(
        consent(patient.id, {
          type: 'permit',
          purpose: [TREAT],
          actor: [actor(`Practitioner/${doctor.id}`)],
          provision: [{ type: 'deny', actor: [actor(`Practitioner/${nurse.id}`)] }],
        })
      );
      const facts = await factsOf(patient.id);
      expect([facts.authorised.practitionerIds, facts.blocked.practitionerIds]).to.deep.equal([[doctor.id], [nurse.id]]);
    });
  });

  describe('emergency oppositions (deny, ETREAT)', () => {
    it('when the opposition has no access-mode code, then both bris de glace and centre 15 are opposed', async () => {
      const patient = await create(testPatient());
      await create(opposition(patient.id));
      expect((await factsOf(patient.id)).emergencyOpposition).to.deep.equal({ brisDeGlace: true, centre15: true });
    });

    it('when the opposition is coded bris_de_glace, then only bris de glace is opposed', async () => {
      const patient = await create(testPatient());
      await create(opposition(patient.id, 'bris_de_glace'));
      expect((await factsOf(patient.id)).emergencyOpposition).to.deep.equal({ brisDeGlace: true, centre15: false });
    });

    it('when the opposition is coded centre_15, then only centre 15 is opposed and nobody is blocked', async () => {
      const patient = await create(testPatient());
      await create(opposition(patient.id, 'centre_15'));
      const facts = await factsOf(patient.id);
      expect(facts.emergencyOpposition).to.deep.equal({ brisDeGlace: false, centre15: true });
      expect(facts.blocked).to.deep.equal({ practitionerIds: [], organizationIds: [] });
    });

    it('when the opposition was withdrawn (inactive), then nothing is opposed', async () => {
      const patient = await create(testPatient());
      await create({ ...opposition(patient.id), status: 'inactive' });
      expect((await factsOf(patient.id)).emergencyOpposition).to.deep.equal({ brisDeGlace: false, centre15: false });
    });
  });

  describe('extended rights (permit with securityLabel)', () => {
    it('when a permit gives a practitioner the MASQUE_PS label, then that practitioner has extended rights and is authorised', async () => {
      const patient = await create(testPatient());
      await create(
        consent(patient.id, {
          type: 'permit',
          purpose: [TREAT],
          actor: [actor(`Practitioner/${nurse.id}`)],
          securityLabel: [{ system: VISIBILITY_SYSTEM, code: 'MASQUE_PS' }],
        })
      );
      const facts = await factsOf(patient.id);
      expect([facts.extendedRightsIds, facts.authorised.practitionerIds]).to.deep.equal([[nurse.id], [nurse.id]]);
    });

    it('when the extended rights period has ended, then nobody has extended rights', async () => {
      const patient = await create(testPatient());
      await create(
        consent(patient.id, {
          type: 'permit',
          period: { start: '2024-01-01', end: '2024-12-31' },
          actor: [actor(`Practitioner/${nurse.id}`)],
          securityLabel: [{ system: VISIBILITY_SYSTEM, code: 'MASQUE_PS' }],
        })
      );
      expect((await factsOf(patient.id)).extendedRightsIds).to.deep.equal([]);
    });
  });

  describe('legal representatives', () => {
    it('when an active parent RelatedPerson carries the INS of their own Patient, then both ids represent the minor', async () => {
      const ins = randomTestIns();
      const parentPatient = await create(testPatient({ identifier: [{ system: INS_NIR_TEST_SYSTEM, value: ins }] }));
      const child = await create(testPatient({ birthDate: yearsBefore(8) }));
      const rp = await create(representative(child.id, { identifier: [{ system: INS_NIR_TEST_SYSTEM, value: ins }] }));
      const facts = await factsOf(child.id);
      expect(facts.legalRepresentativeIds).to.have.members([`RelatedPerson/${rp.id}`, parentPatient.id]);
      expect(facts.isMinor).to.equal(true);
    });

    it('when a RelatedPerson is inactive, out of its period, or not a legal relationship, then it represents nobody', async () => {
      const child = await create(testPatient({ birthDate: yearsBefore(8) }));
      await create(representative(child.id, { active: false }));
      await create(representative(child.id, { period: { end: '2025-01-01' } }));
      await create(representative(child.id, { relationship: [{ coding: [{ system: V3_ROLE_CODE_SYSTEM, code: 'FRND' }] }] }));
      await create(representative(child.id, { relationship: [{ coding: [{ system: V3_ROLE_CODE_SYSTEM, code: 'STPPRN' }] }] }));
      const guardian = await create(representative(child.id, { relationship: [{ coding: [{ system: V3_ROLE_CODE_SYSTEM, code: 'GUARD' }] }] }));
      expect((await factsOf(child.id)).legalRepresentativeIds).to.deep.equal([`RelatedPerson/${guardian.id}`]);
    });

    it('when a RelatedPerson belongs to another patient, then it does not represent this one', async () => {
      const child = await create(testPatient({ birthDate: yearsBefore(8) }));
      const sibling = await create(testPatient({ birthDate: yearsBefore(6) }));
      const rp = await create(representative(sibling.id));
      expect((await factsOf(child.id)).legalRepresentativeIds).to.deep.equal([]);
      expect((await factsOf(sibling.id)).legalRepresentativeIds).to.deep.equal([`RelatedPerson/${rp.id}`]);
    });
  });

  describe('documents and consents resolved with the database', () => {
    it('when a document is authored through a PractitionerRole, then its practitioner is an author', async () => {
      const role = await create<PractitionerRole>({ resourceType: 'PractitionerRole', practitioner: { reference: `Practitioner/${nurse.id}` } });
      const patient = await create(testPatient());
      const doc: DocumentReference = { ...testDocumentReference(patient.id), author: [{ reference: `PractitionerRole/${role.id}` }, { reference: `Practitioner/${doctor.id}` }] };
      const facts = await documentFactsFromDb(await repo(), doc);
      expect(facts.authorPractitionerIds).to.have.members([doctor.id, nurse.id]);
      expect(facts.depositedByPatient).to.equal(false);
    });

    it('when a document is authored by the legal representative (RelatedPerson) of its subject, then the patient side deposited it', async () => {
      const child = await create(testPatient({ birthDate: yearsBefore(8) }));
      const rp = await create(representative(child.id));
      const doc: DocumentReference = { ...testDocumentReference(child.id), author: [{ reference: `RelatedPerson/${rp.id}` }] };
      expect((await documentFactsFromDb(await repo(), doc)).depositedByPatient).to.equal(true);
    });

    it('when a Consent names an Organization and a PractitionerRole, then its ConsentFacts carry the structure id and the practitioner id', async () => {
      const code = finess();
      const org = await create(organization(code));
      const role = await create<PractitionerRole>({ resourceType: 'PractitionerRole', practitioner: { reference: `Practitioner/${doctor.id}` } });
      const facts = await consentFactsFromDb(await repo(), authorisation('x', `Organization/${org.id}`));
      expect(facts.actorOrganizationIds).to.deep.equal([`1${code}`]);
      const viaRole = await consentFactsFromDb(await repo(), authorisation('x', `PractitionerRole/${role.id}`));
      expect(viaRole).to.deep.equal({ provisionType: 'permit', actorPractitionerIds: [doctor.id], actorOrganizationIds: [], purposes: ['TREAT'], securityLabels: [] });
    });
  });
});
