import { expect } from 'chai';
import type { Organization, Patient, Practitioner, PractitionerRole, Resource } from '@medplum/fhirtypes';
import { demoIdpClientSecret } from '../../src/auth/demo-idp/secret.js';
import { loadDemoUsers } from '../../src/auth/demo-idp/users.js';
import { IdentityError, resolveIdentity } from '../../src/auth/identity.js';
import { internalSearch } from '../../src/auth/internal-search.js';
import { UpstreamOidc } from '../../src/auth/upstream.js';
import {
  FINESS_SYSTEM,
  IDNPS_SYSTEM,
  IDNST_SYSTEM,
  INS_NIR_TEST_SYSTEM,
  PROFESSION_SYSTEM,
  SPECIALITY_SYSTEM,
} from '../../src/dmp/identifiers.js';
import { prepareWrite } from '../../src/fhir/handlers/write-input.js';
import type { SupportedType } from '../../src/fhir/resource-types.js';
import { ResourceRepo } from '../../src/repo/resource-repo.js';
import { officialName, randomTestIns, testPatient, unique } from '../helpers/fhir.js';
import { browserLogin } from '../helpers/oidc-login.js';
import { getTestServer } from '../helpers/server.js';

/** A fresh national professional id (`8` + 11 digits). */
function randomNationalId(): string {
  return '8' + Array.from({ length: 11 }, () => Math.floor(Math.random() * 10)).join('');
}

function pscClaims(nationalId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sub: unique('sub'),
    SubjectNameID: nationalId,
    given_name: 'Hélène',
    family_name: unique('DURAND'),
    SubjectRefPro: { exercices: [{ codeProfession: '10', codeSavoirFaire: 'SM54', activities: [{ identifiantTechniqueDeLaStructure: 'R10000000001' }] }] },
    Acces_Regulation_Medicale: 'FAUX',
    ...overrides,
  };
}

async function identityError(promise: Promise<unknown>): Promise<IdentityError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof IdentityError) {
      return err;
    }
    throw err;
  }
  throw new Error('expected an IdentityError');
}

describe('Identity mapping and the demo users, on the server database', () => {
  let repo: ResourceRepo;

  /** Creates a resource as a client write would be (validated), straight in the repository. */
  const create = async <T extends Resource>(type: SupportedType, resource: T): Promise<T> => repo.create(type, prepareWrite(type, resource) as T);
  const practitionersWith = async (nationalId: string): Promise<Practitioner[]> =>
    (await internalSearch<Practitioner>(repo, 'Practitioner', { identifier: `${IDNPS_SYSTEM}|${nationalId}` }, 10)).matches;
  const rolesOf = async (practitionerId: string): Promise<PractitionerRole[]> =>
    (await internalSearch<PractitionerRole>(repo, 'PractitionerRole', { practitioner: `Practitioner/${practitionerId}` }, 10)).matches;

  before(async () => {
    repo = new ResourceRepo((await getTestServer()).db);
  });

  describe('resolveIdentity', () => {
    it('when a professional logs in for the first time, then a Practitioner and a PractitionerRole are created', async () => {
      const nationalId = randomNationalId();
      const claims = pscClaims(nationalId);
      const identity = await resolveIdentity(repo, claims);
      expect(identity.kind).to.equal('practitioner');
      if (identity.kind !== 'practitioner') return;
      const [practitioner, ...others] = await practitionersWith(nationalId);
      expect(others).to.have.length(0);
      expect(practitioner.id).to.equal(identity.professional.practitionerId);
      expect(practitioner.name?.[0]).to.include({ family: claims.family_name });
      expect(practitioner.name?.[0].given).to.deep.equal(['Hélène']);
      const roles = await rolesOf(practitioner.id as string);
      expect(roles).to.have.length(1);
      expect(roles[0].code?.[0].coding?.[0]).to.include({ system: PROFESSION_SYSTEM, code: '10' });
      expect(roles[0].specialty?.[0].coding?.[0]).to.include({ system: SPECIALITY_SYSTEM, code: 'SM54' });
    });

    it('when a professional is resolved, then the identity carries profession, speciality, structure, regulator and fhirUser', async () => {
      const identity = await resolveIdentity(repo, pscClaims(randomNationalId(), { Acces_Regulation_Medicale: 'VRAI' }));
      if (identity.kind !== 'practitioner') throw new Error('expected a practitioner');
      expect(identity.professional).to.include({ profession: '10', speciality: 'SM54', structure: 'R10000000001', regulator: true });
      expect(identity.fhirUser).to.equal(`Practitioner/${identity.professional.practitionerId}`);
    });

    it('when the same professional logs in again, then the same Practitioner and PractitionerRole are reused unchanged', async () => {
      const nationalId = randomNationalId();
      const claims = pscClaims(nationalId);
      const first = await resolveIdentity(repo, claims);
      const second = await resolveIdentity(repo, claims);
      if (first.kind !== 'practitioner' || second.kind !== 'practitioner') throw new Error('expected a practitioner');
      expect(second.professional.practitionerId).to.equal(first.professional.practitionerId);
      expect((await practitionersWith(nationalId))[0].meta?.versionId).to.equal('1');
      expect(await rolesOf(first.professional.practitionerId)).to.have.length(1);
    });

    it('when the professional’s name changed upstream, then the Practitioner is updated in place', async () => {
      const nationalId = randomNationalId();
      const first = await resolveIdentity(repo, pscClaims(nationalId, { family_name: 'AVANT' }));
      const second = await resolveIdentity(repo, pscClaims(nationalId, { family_name: 'APRES' }));
      if (first.kind !== 'practitioner' || second.kind !== 'practitioner') throw new Error('expected a practitioner');
      expect(second.professional.practitionerId).to.equal(first.professional.practitionerId);
      const [practitioner] = await practitionersWith(nationalId);
      expect(practitioner.name?.[0].family).to.equal('APRES');
      expect(practitioner.meta?.versionId).to.equal('2');
    });

    it('when the professional comes with another speciality, then a second PractitionerRole is added', async () => {
      const nationalId = randomNationalId();
      await resolveIdentity(repo, pscClaims(nationalId));
      const other = { exercices: [{ codeProfession: '10', codeSavoirFaire: 'SM26', activities: [] }] };
      const identity = await resolveIdentity(repo, pscClaims(nationalId, { SubjectRefPro: other }));
      if (identity.kind !== 'practitioner') throw new Error('expected a practitioner');
      const roles = await rolesOf(identity.professional.practitionerId);
      expect(roles.map((r) => r.specialty?.[0].coding?.[0].code).sort()).to.deep.equal(['SM26', 'SM54']);
    });

    it('when a Practitioner with that national id already exists, then it is the one used', async () => {
      const nationalId = randomNationalId();
      const existing = await create<Practitioner>('Practitioner', {
        resourceType: 'Practitioner',
        identifier: [{ system: IDNPS_SYSTEM, value: nationalId }],
        name: [{ family: 'EXISTANT', given: ['Hélène'] }],
      });
      const identity = await resolveIdentity(repo, pscClaims(nationalId, { family_name: 'EXISTANT' }));
      if (identity.kind !== 'practitioner') throw new Error('expected a practitioner');
      expect(identity.professional.practitionerId).to.equal(existing.id);
      expect(await practitionersWith(nationalId)).to.have.length(1);
    });

    it('when a patient logs in with an INS, then the Patient with that identifier is found', async () => {
      const ins = randomTestIns();
      const patient = await create<Patient>('Patient', testPatient({ identifier: [{ system: INS_NIR_TEST_SYSTEM, value: ins }] }));
      const identity = await resolveIdentity(repo, { sub: unique('sub'), ins: `${INS_NIR_TEST_SYSTEM}|${ins}` });
      expect(identity).to.deep.equal({ kind: 'patient', patientId: patient.id, fhirUser: `Patient/${patient.id}` });
    });

    it('when no Patient has the INS, then the identity is refused as unknown-patient', async () => {
      const err = await identityError(resolveIdentity(repo, { sub: unique('sub'), ins: `${INS_NIR_TEST_SYSTEM}|${randomTestIns()}` }));
      expect(err.code).to.equal('unknown-patient');
    });

    it('when two Patients share the INS, then the identity is refused as ambiguous-patient', async () => {
      const ins = randomTestIns();
      for (let i = 0; i < 2; i++) {
        await create<Patient>('Patient', testPatient({ identifier: [{ system: INS_NIR_TEST_SYSTEM, value: ins }] }));
      }
      const err = await identityError(resolveIdentity(repo, { sub: unique('sub'), ins: `${INS_NIR_TEST_SYSTEM}|${ins}` }));
      expect(err.code).to.equal('ambiguous-patient');
    });

    it('when the claims carry neither SubjectNameID nor ins, then the identity is refused as no-identity', async () => {
      const err = await identityError(resolveIdentity(repo, { sub: unique('sub'), given_name: 'Anne' }));
      expect(err.code).to.equal('no-identity');
    });
  });

  describe('loadDemoUsers and the demo identity provider of the app', () => {
    let nationalId: string;
    let ins: string;
    let finess: string;

    before(async () => {
      nationalId = randomNationalId();
      ins = randomTestIns();
      finess = String(Math.floor(100_000_000 + Math.random() * 800_000_000));
      const organization = await create<Organization>('Organization', {
        resourceType: 'Organization',
        identifier: [{ system: FINESS_SYSTEM, value: finess }, { system: IDNST_SYSTEM, value: `1${finess}` }],
        name: 'Maison de santé de test',
      });
      const practitioner = await create<Practitioner>('Practitioner', {
        resourceType: 'Practitioner',
        identifier: [{ system: IDNPS_SYSTEM, value: nationalId }],
        name: [{ use: 'official', family: unique('DEMO'), given: ['Claire'], prefix: ['Dr'] }],
      });
      await create<PractitionerRole>('PractitionerRole', {
        resourceType: 'PractitionerRole',
        practitioner: { reference: `Practitioner/${practitioner.id}` },
        organization: { reference: `Organization/${organization.id}` },
        code: [{ coding: [{ system: PROFESSION_SYSTEM, code: '10', display: 'Médecin' }] }],
        specialty: [{ coding: [{ system: SPECIALITY_SYSTEM, code: 'SM54', display: 'Médecine générale' }] }],
      });
      await create<Patient>('Patient', testPatient({ identifier: [{ system: INS_NIR_TEST_SYSTEM, value: ins }], name: [officialName(unique('PAT'), ['JEANNE'])] }));
    });

    it('when the demo users are loaded, then a médecin comes with PSC claims built from the role and its structure', async () => {
      const user = (await loadDemoUsers(repo)).find((u) => u.id === `ps-${nationalId}`);
      expect(user?.kind).to.equal('practitioner');
      expect(user?.label).to.match(/^Dr Claire DEMO/);
      expect(user?.claims).to.include({ SubjectNameID: nationalId, given_name: 'Claire', preferred_username: nationalId, Acces_Regulation_Medicale: 'FAUX' });
      expect(user?.claims.SubjectRefPro).to.deep.equal({
        exercices: [
          {
            codeProfession: '10',
            codeSavoirFaire: 'SM54',
            activities: [{ raisonSocialeSite: 'Maison de santé de test', identifiantTechniqueDeLaStructure: `1${finess}`, numeroFinessSite: finess }],
          },
        ],
      });
    });

    it('when the demo users are loaded, then each médecin also appears as a SAMU regulator with the same sub', async () => {
      const users = await loadDemoUsers(repo);
      const plain = users.find((u) => u.id === `ps-${nationalId}`);
      const regulator = users.find((u) => u.id === `ps-${nationalId}-samu`);
      expect(regulator?.label).to.contain('(régulateur SAMU)');
      expect(regulator?.claims.Acces_Regulation_Medicale).to.equal('VRAI');
      expect(regulator?.claims.sub).to.equal(plain?.claims.sub);
    });

    it('when the demo users are loaded, then a Patient with an INS is a patient user with an ins claim and no SubjectNameID', async () => {
      const user = (await loadDemoUsers(repo)).find((u) => u.claims.ins === `${INS_NIR_TEST_SYSTEM}|${ins}`);
      expect(user?.kind).to.equal('patient');
      expect(user?.claims.given_name).to.equal('JEANNE');
      expect(user?.claims).to.not.have.property('SubjectNameID');
    });

    it('when the demo users are loaded twice, then ids and subs are the same (derived from identifiers)', async () => {
      const pick = async (): Promise<unknown> => (await loadDemoUsers(repo)).filter((u) => u.id.includes(nationalId) || u.id.endsWith(ins)).map((u) => [u.id, u.claims.sub]);
      const first = await pick();
      expect(first).to.have.length(3);
      expect(await pick()).to.deep.equal(first);
    });

    it('when a professional logs in through the app’s /demo-idp, then the claims resolve to their Practitioner', async () => {
      const { baseUrl, db } = await getTestServer();
      const rp = new UpstreamOidc({
        issuer: `${baseUrl}/demo-idp`,
        clientId: 'dmp-fhir-server',
        clientSecret: () => demoIdpClientSecret(db),
        redirectUri: `${baseUrl}/auth/callback`,
      });
      const { callback, pending } = await browserLogin(rp, `ps-${nationalId}-samu`);
      const claims = await rp.finishLogin(callback, pending);
      const identity = await resolveIdentity(repo, claims);
      if (identity.kind !== 'practitioner') throw new Error('expected a practitioner');
      const [practitioner] = await practitionersWith(nationalId);
      expect(identity.professional).to.include({ practitionerId: practitioner.id, nationalId, profession: '10', structure: `1${finess}`, regulator: true });
    });
  });
});
