import { expect } from 'chai';
import type { Bundle, Patient, RelatedPerson, Resource } from '@medplum/fhirtypes';
import { parseClinicalScope, type ClinicalScope } from '../../src/auth/scopes.js';
import { INS_NIR_TEST_SYSTEM, V3_ROLE_CODE_SYSTEM } from '../../src/dmp/identifiers.js';
import { RESOURCE_TYPES, currentTable, historyTable } from '../../src/fhir/resource-types.js';
import { parseSearch } from '../../src/fhir/search/request.js';
import { MIGRATIONS } from '../../src/repo/migrations/index.js';
import { runSearch } from '../../src/repo/search.js';
import type { Principal } from '../../src/policy/principal.js';
import { searchFilterFor } from '../../src/policy/search-filter.js';
import { expectOutcome, fhirFetch, randomTestIns, testPatient, unique } from '../helpers/fhir.js';
import { getTestServer } from '../helpers/server.js';

const TEST_SYSTEM = 'urn:test:related-person';

async function json<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text.slice(0, 600)).to.equal(status);
  return JSON.parse(text) as T;
}

async function create<T extends Resource>(resource: T): Promise<T & { id: string }> {
  return json<T & { id: string }>(await fhirFetch(resource.resourceType, { method: 'POST', body: JSON.stringify(resource) }), 201);
}

function parent(patientId: string, overrides: Partial<RelatedPerson> = {}): RelatedPerson {
  return {
    resourceType: 'RelatedPerson',
    identifier: [{ system: TEST_SYSTEM, value: unique('rp') }],
    active: true,
    patient: { reference: `Patient/${patientId}` },
    relationship: [{ coding: [{ system: V3_ROLE_CODE_SYSTEM, code: 'MTH', display: 'mother' }] }],
    name: [{ family: unique('Parent'), given: ['Anne'] }],
    gender: 'female',
    ...overrides,
  };
}

const ids = (bundle: Bundle): string[] => (bundle.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);

describe('RelatedPerson (legal representatives of minors)', () => {
  let child: Patient & { id: string };

  before(async () => {
    child = await create(testPatient({ birthDate: '2015-06-21' }));
  });

  describe('schema', () => {
    it('when every migration is read, then each served type gets its current and history tables exactly once', () => {
      const created = MIGRATIONS.flatMap((m) => m.statements)
        .map((s) => /^CREATE TABLE (\w+)/.exec(s.trim())?.[1])
        .filter((t): t is string => t !== undefined);
      for (const type of RESOURCE_TYPES) {
        expect(created.filter((t) => t === currentTable(type)), currentTable(type)).to.have.length(1);
        expect(created.filter((t) => t === historyTable(type)), historyTable(type)).to.have.length(1);
      }
    });

    it('when the server has migrated, then RelatedPerson has its own migration 005 and its tables exist', async () => {
      const { db } = await getTestServer();
      expect(MIGRATIONS.map((m) => m.id)).to.include('005-related-person');
      const applied = await db.query<{ id: string }>('SELECT id FROM schema_migrations WHERE id = $1', ['005-related-person']);
      expect(applied.rows).to.have.length(1);
      const count = await db.query<{ n: number | string }>('SELECT count(*) AS n FROM res_relatedperson WHERE id = $1', [unique('none')]);
      expect(Number(count.rows[0].n)).to.equal(0);
    });
  });

  describe('CRUD', () => {
    it('when a RelatedPerson is created, then it is stored in the compartment of its patient', async () => {
      const rp = await create(parent(child.id));
      const { db } = await getTestServer();
      const row = await db.query<{ patient_id: string | null }>('SELECT patient_id FROM res_relatedperson WHERE id = $1', [rp.id]);
      expect(row.rows[0]?.patient_id).to.equal(child.id);
    });

    it('when a RelatedPerson is read, updated, read at version 1, and deleted, then each interaction answers as for any type', async () => {
      const rp = await create(parent(child.id));
      const read = await json<RelatedPerson>(await fhirFetch(`RelatedPerson/${rp.id}`), 200);
      expect(read.relationship?.[0].coding?.[0].code).to.equal('MTH');
      const updated = await json<RelatedPerson>(
        await fhirFetch(`RelatedPerson/${rp.id}`, { method: 'PUT', body: JSON.stringify({ ...rp, active: false }) }),
        200
      );
      expect([updated.meta?.versionId, updated.active]).to.deep.equal(['2', false]);
      const v1 = await json<RelatedPerson>(await fhirFetch(`RelatedPerson/${rp.id}/_history/1`), 200);
      expect(v1.active).to.equal(true);
      await json<Resource>(await fhirFetch(`RelatedPerson/${rp.id}`, { method: 'DELETE' }), 200);
      await expectOutcome(await fhirFetch(`RelatedPerson/${rp.id}`), 410, 'GONE');
    });

    it('when a RelatedPerson without its required patient is created, then the answer is 400 INVALID_RESOURCE', async () => {
      const { patient: _omitted, ...withoutPatient } = parent(child.id);
      await expectOutcome(await fhirFetch('RelatedPerson', { method: 'POST', body: JSON.stringify(withoutPatient) }), 400, 'INVALID_RESOURCE');
    });
  });

  describe('search', () => {
    let other: Patient & { id: string };
    let mother: RelatedPerson & { id: string };
    let guardian: RelatedPerson & { id: string };
    let formerGuardian: RelatedPerson & { id: string };
    let family: string;

    before(async () => {
      other = await create(testPatient());
      family = unique('Famille');
      mother = await create(parent(other.id, { name: [{ family, given: ['Élodie'] }] }));
      guardian = await create(
        parent(other.id, { relationship: [{ coding: [{ system: V3_ROLE_CODE_SYSTEM, code: 'GUARD' }] }], name: [{ family: unique('Tuteur') }] })
      );
      formerGuardian = await create(
        parent(other.id, { active: false, relationship: [{ coding: [{ system: V3_ROLE_CODE_SYSTEM, code: 'GUARD' }] }] })
      );
    });

    it('when RelatedPerson is searched by patient, then exactly that patient\'s related persons are returned', async () => {
      const bundle = await json<Bundle>(await fhirFetch(`RelatedPerson?patient=Patient/${other.id}`), 200);
      expect(ids(bundle)).to.have.members([mother, guardian, formerGuardian].map((r) => `RelatedPerson/${r.id}`));
    });

    it('when RelatedPerson is searched by identifier, then the one with that identifier is returned', async () => {
      const value = mother.identifier?.[0].value as string;
      const bundle = await json<Bundle>(await fhirFetch(`RelatedPerson?identifier=${encodeURIComponent(`${TEST_SYSTEM}|${value}`)}`), 200);
      expect(ids(bundle)).to.deep.equal([`RelatedPerson/${mother.id}`]);
    });

    it('when RelatedPerson is searched by name without accents, then the accented name matches', async () => {
      const bundle = await json<Bundle>(await fhirFetch(`RelatedPerson?name=elodie&patient=Patient/${other.id}`), 200);
      expect(ids(bundle)).to.deep.equal([`RelatedPerson/${mother.id}`]);
    });

    it('when RelatedPerson is searched by relationship and active, then only the active guardian matches', async () => {
      const query = `relationship=${encodeURIComponent(`${V3_ROLE_CODE_SYSTEM}|GUARD`)}&active=true&patient=Patient/${other.id}`;
      const bundle = await json<Bundle>(await fhirFetch(`RelatedPerson?${query}`), 200);
      expect(ids(bundle)).to.deep.equal([`RelatedPerson/${guardian.id}`]);
    });

    it('when RelatedPerson is searched with _include=RelatedPerson:patient, then the patient comes as an include', async () => {
      const bundle = await json<Bundle>(await fhirFetch(`RelatedPerson?_id=${mother.id}&_include=RelatedPerson:patient`), 200);
      expect(bundle.entry?.map((e) => [e.search?.mode, `${e.resource?.resourceType}/${e.resource?.id}`])).to.deep.equal([
        ['match', `RelatedPerson/${mother.id}`],
        ['include', `Patient/${other.id}`],
      ]);
    });

    it('when Patient is searched with _revinclude=RelatedPerson:patient, then its related persons come as includes', async () => {
      const bundle = await json<Bundle>(await fhirFetch(`Patient?_id=${other.id}&_revinclude=RelatedPerson:patient`), 200);
      const included = (bundle.entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
      expect(included).to.have.members([mother, guardian, formerGuardian].map((r) => `RelatedPerson/${r.id}`));
    });

    it('when a patient/ scope searches RelatedPerson, then only the related persons of the token patient are visible', async () => {
      const { db } = await getTestServer();
      const scope = parseClinicalScope('patient/RelatedPerson.rs') as ClinicalScope;
      const principal: Principal = {
        kind: 'patient',
        patientId: child.id,
        token: { clientId: 'test', scope: scope.text, scopes: [scope], patientId: child.id, accessMode: 'normal', jti: unique('jti') },
      };
      const mine = await create(parent(child.id));
      const query = { ...parseSearch('RelatedPerson', { _id: [[mine.id, mother.id].join(',')] }, { lenient: false, defaultCount: 10, maxCount: 10 }).query, total: true };
      const page = await runSearch(db, query, (t) => searchFilterFor(principal, t));
      expect(page.matches.map((r) => r.id)).to.deep.equal([mine.id]);
      expect(page.total).to.equal(1);
    });
  });

  it('when a RelatedPerson carries the INS of the representative, then it is searchable by that INS', async () => {
    const ins = randomTestIns();
    const rp = await create(parent(child.id, { identifier: [{ system: INS_NIR_TEST_SYSTEM, value: ins }] }));
    const bundle = await json<Bundle>(await fhirFetch(`RelatedPerson?identifier=${encodeURIComponent(`${INS_NIR_TEST_SYSTEM}|${ins}`)}`), 200);
    expect(ids(bundle)).to.deep.equal([`RelatedPerson/${rp.id}`]);
  });
});
