import { expect } from 'chai';
import type {
  Bundle,
  Consent,
  DocumentReference,
  List,
  Organization,
  Patient,
  Practitioner,
  PractitionerRole,
} from '@medplum/fhirtypes';
import { INS_NIR_TEST_SYSTEM } from '../../src/dmp/identifiers.js';
import { SUPPORTED_SEARCH_PARAMS } from '../../src/fhir/search/parameters.js';
import { expectOutcome, fhirFetch, officialName, randomTestIns, testPatient, unique } from '../helpers/fhir.js';
import { createResource, searchBundle, searchIds, sorted } from '../helpers/search.js';
import { getTestServer } from '../helpers/server.js';

const LOINC = 'http://loinc.org';
const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const FORMAT_CODES = 'http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode';

/** Everything this file searches for is created here, under identifiers and code systems unique to the run. */
const tag = unique('sp');
const SYS = `https://example.org/fhir/${tag}/id`;
const CS = `https://example.org/fhir/${tag}/cs`;
const NO_SYSTEM_CODE = `nosys-${tag}`;
const FAMILY1 = `Lefèvre${tag}`;

interface Fixture {
  p1: Patient & { id: string };
  p2: Patient & { id: string };
  p3: Patient & { id: string };
  pr1: Practitioner & { id: string };
  pr2: Practitioner & { id: string };
  o1: Organization & { id: string };
  o2: Organization & { id: string };
  r1: PractitionerRole & { id: string };
  r2: PractitionerRole & { id: string };
  d1: DocumentReference & { id: string };
  d2: DocumentReference & { id: string };
  d3: DocumentReference & { id: string };
  d4: DocumentReference & { id: string };
  l1: List & { id: string };
  l2: List & { id: string };
  c1: Consent & { id: string };
  c2: Consent & { id: string };
  startedAt: Date;
}

let f: Fixture;

const coded = (code: string, system: string = CS): { coding: { system: string; code: string }[] } => ({ coding: [{ system, code }] });

function patient(key: string, family: string, given: string, gender: Patient['gender'], birthDate: string): Patient {
  return {
    resourceType: 'Patient',
    identifier: [
      { system: INS_NIR_TEST_SYSTEM, value: randomTestIns() },
      { system: SYS, value: key },
    ],
    name: [officialName(family, [given])],
    extension: testPatient().extension,
    gender,
    birthDate,
  };
}

async function createFixture(): Promise<Fixture> {
  const startedAt = new Date();
  const [p1, p2, p3] = await Promise.all([
    createResource(patient('p1', FAMILY1, 'Bénédicte', 'female', '1980-01-15')),
    createResource(patient('p2', `Martin${tag}`, 'Jean', 'male', '1990-06-30')),
    createResource(patient('p3', `Durand${tag}`, 'Zoé', 'other', '2000-12-31')),
  ]);
  const [pr1, pr2, o1, o2] = await Promise.all([
    createResource<Practitioner>({
      resourceType: 'Practitioner',
      identifier: [{ system: SYS, value: 'pr1' }],
      name: [{ family: `Docteur${tag}`, given: ['Émile'] }],
    }),
    createResource<Practitioner>({ resourceType: 'Practitioner', identifier: [{ system: SYS, value: 'pr2' }] }),
    createResource<Organization>({
      resourceType: 'Organization',
      identifier: [{ system: SYS, value: 'o1' }],
      name: `Clinique Saint-Éloi ${tag}`,
      alias: [`CSE${tag}`],
    }),
    createResource<Organization>({ resourceType: 'Organization', identifier: [{ system: SYS, value: 'o2' }], name: `Hôpital ${tag}` }),
  ]);
  const [r1, r2] = await Promise.all([
    createResource<PractitionerRole>({
      resourceType: 'PractitionerRole',
      practitioner: { reference: `Practitioner/${pr1.id}` },
      organization: { reference: `Organization/${o1.id}` },
      code: [coded('role-a')],
      specialty: [coded('spec-a')],
    }),
    createResource<PractitionerRole>({
      resourceType: 'PractitionerRole',
      practitioner: { reference: `Practitioner/${pr2.id}` },
      organization: { reference: `Organization/${o2.id}` },
      code: [coded('role-b')],
    }),
  ]);
  const d1 = await createResource<DocumentReference>({
    resourceType: 'DocumentReference',
    identifier: [
      { system: SYS, value: 'd1' },
      { system: SYS, value: 'd1b' },
    ],
    status: 'current',
    type: coded('11488-4', LOINC),
    category: [coded('cat-a')],
    subject: { reference: `Patient/${p1.id}` },
    date: '2020-03-15T10:00:00Z',
    author: [{ reference: `Practitioner/${pr1.id}` }],
    securityLabel: [coded('N', CONFIDENTIALITY)],
    content: [
      {
        attachment: { contentType: 'application/pdf', url: 'Binary/example' },
        format: { system: FORMAT_CODES, code: 'urn:ihe:iti:xds:2017:mimeTypeSufficient' },
      },
    ],
    context: {
      period: { start: '2020-03-01', end: '2020-03-31' },
      facilityType: coded('fac-a'),
      practiceSetting: coded('set-a'),
      event: [coded('evt-a')],
    },
  });
  const [d2, d3, d4] = await Promise.all([
    createResource<DocumentReference>({
      resourceType: 'DocumentReference',
      identifier: [{ system: SYS, value: 'd2' }],
      status: 'superseded',
      type: coded('18842-5', LOINC),
      category: [coded('cat-b')],
      subject: { reference: `Patient/${p1.id}` },
      date: '2021-06-01T08:00:00Z',
      author: [{ reference: `Organization/${o1.id}` }],
      securityLabel: [coded('R', CONFIDENTIALITY)],
      relatesTo: [{ code: 'appends', target: { reference: `DocumentReference/${d1.id}` } }],
      content: [{ attachment: { contentType: 'text/plain' } }],
      context: { period: { start: '2021-01-01' }, facilityType: coded('fac-b'), practiceSetting: coded('set-b'), event: [coded('evt-b')] },
    }),
    createResource<DocumentReference>({
      resourceType: 'DocumentReference',
      identifier: [{ system: SYS, value: 'd3' }],
      status: 'current',
      type: { coding: [{ code: NO_SYSTEM_CODE }] },
      subject: { reference: `Patient/${p1.id}` },
      content: [{ attachment: { contentType: 'application/pdf' } }],
    }),
    createResource<DocumentReference>({
      resourceType: 'DocumentReference',
      identifier: [{ system: SYS, value: 'd4' }],
      status: 'entered-in-error',
      type: coded('11488-4', LOINC),
      subject: { reference: `Patient/${p2.id}` },
      date: '2022-01-01T09:00:00Z',
      content: [{ attachment: { contentType: 'application/pdf' } }],
    }),
  ]);
  const [l1, l2, c1, c2] = await Promise.all([
    createResource<List>({
      resourceType: 'List',
      identifier: [{ system: SYS, value: 'l1' }],
      status: 'current',
      mode: 'working',
      code: coded('list-a'),
      subject: { reference: `Patient/${p1.id}` },
      date: '2022-05-05T12:00:00Z',
      source: { reference: `Practitioner/${pr1.id}` },
    }),
    createResource<List>({
      resourceType: 'List',
      identifier: [{ system: SYS, value: 'l2' }],
      status: 'retired',
      mode: 'snapshot',
      code: coded('list-b'),
      subject: { reference: `Patient/${p2.id}` },
      date: '2018-01-01',
    }),
    createResource<Consent>({
      resourceType: 'Consent',
      status: 'active',
      scope: coded('patient-privacy', 'http://terminology.hl7.org/CodeSystem/consentscope'),
      category: [coded('cons-a')],
      patient: { reference: `Patient/${p1.id}` },
      dateTime: '2023-01-10T09:00:00Z',
      policyRule: coded('OPTIN', 'http://terminology.hl7.org/CodeSystem/v3-ActCode'),
      provision: {
        type: 'permit',
        actor: [{ role: coded('PRCP', 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType'), reference: { reference: `Practitioner/${pr1.id}` } }],
      },
    }),
    createResource<Consent>({
      resourceType: 'Consent',
      status: 'inactive',
      scope: coded('patient-privacy', 'http://terminology.hl7.org/CodeSystem/consentscope'),
      category: [coded('cons-b')],
      patient: { reference: `Patient/${p2.id}` },
      dateTime: '2019-05-05',
      policyRule: coded('OPTOUT', 'http://terminology.hl7.org/CodeSystem/v3-ActCode'),
      provision: {
        type: 'deny',
        actor: [{ role: coded('PRCP', 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType'), reference: { reference: `Organization/${o1.id}` } }],
      },
    }),
  ]);
  return { p1, p2, p3, pr1, pr2, o1, o2, r1, r2, d1, d2, d3, d4, l1, l2, c1, c2, startedAt };
}

/** Expects the search (path relative to /fhir) to match exactly these resources (order ignored). */
async function expectMatches(path: string, expected: { id: string }[]): Promise<void> {
  expect(await searchIds(everyStatus(path)), path).to.deep.equal(sorted(...expected.map((r) => r.id)));
}

/**
 * A DocumentReference search without `status` finds current documents only (MHD ITI-67 default); the
 * tests of the other parameters name every status so that they test their parameter alone.
 */
function everyStatus(path: string): string {
  return path.startsWith('DocumentReference?') && !/[?&](status[=:]|_id=)/.test(path) ? `${path}&status=current,superseded,entered-in-error` : path;
}

const enc = encodeURIComponent;
/** Scopes to this file's resources of a type with an identifier (token `system|`). */
const mine = `identifier=${enc(SYS + '|')}`;

describe('search parameters', function () {
  before(async () => {
    f = await createFixture();
  });

  describe('Patient', () => {
    it('when searching identifier=system|value, then only that patient matches', async () => {
      await expectMatches(`Patient?identifier=${enc(`${SYS}|p2`)}`, [f.p2]);
      await expectMatches(`Patient?identifier=${enc(`${SYS}|p9`)}`, []);
    });

    it('when searching identifier=system| (system only), then every patient with an identifier in that system matches', async () => {
      await expectMatches(`Patient?${mine}`, [f.p1, f.p2, f.p3]);
      await expectMatches(`Patient?identifier=${enc(`${SYS}-other|`)}`, []);
    });

    it('when searching identifier by code only, then the value matches in any system', async () => {
      const ins = f.p3.identifier?.find((i) => i.system === INS_NIR_TEST_SYSTEM)?.value as string;
      await expectMatches(`Patient?identifier=${ins}`, [f.p3]);
      await expectMatches(`Patient?identifier=p3&${mine}`, [f.p3]);
    });

    it('when searching a token with |code (no system), then only values stored without a system match', async () => {
      await expectMatches(`Patient?gender=${enc('|female')}&${mine}`, [f.p1]);
      await expectMatches(`Patient?identifier=${enc('|p1')}&${mine}`, []);
    });

    it('when searching gender, then only patients of that gender match', async () => {
      await expectMatches(`Patient?gender=male&${mine}`, [f.p2]);
      await expectMatches(`Patient?gender=unknown&${mine}`, []);
    });

    it('when searching gender:not=female, then the other patients match', async () => {
      await expectMatches(`Patient?gender:not=female&${mine}`, [f.p2, f.p3]);
    });

    it('when a token value lists several codes separated by commas, then any of them matches (OR)', async () => {
      await expectMatches(`Patient?gender=male,other&${mine}`, [f.p2, f.p3]);
    });

    it('when a token parameter is repeated, then every occurrence must match (AND)', async () => {
      await expectMatches(`Patient?identifier=${enc(`${SYS}|p1`)}&${mine}`, [f.p1]);
      await expectMatches(`Patient?identifier=${enc(`${SYS}|p1`)}&identifier=${enc(`${SYS}|p2`)}`, []);
      await expectMatches(`Patient?gender=male,female&gender=female,other&${mine}`, [f.p1]);
    });

    it('when searching name without accents or case, then the accented name matches (Bénédicte by benedicte and BENE)', async () => {
      await expectMatches(`Patient?name=benedicte&${mine}`, [f.p1]);
      await expectMatches(`Patient?name=BENE&${mine}`, [f.p1]);
      await expectMatches(`Patient?name=${enc('Bénédicte')}&${mine}`, [f.p1]);
    });

    it('when searching name with a value that is not the start of any name part, then nothing matches', async () => {
      await expectMatches(`Patient?name=nedicte&${mine}`, []);
      await expectMatches(`Patient?name=xavier&${mine}`, []);
    });

    it('when searching family, then it starts-with-matches the family name only', async () => {
      await expectMatches(`Patient?family=lefevre&${mine}`, [f.p1]);
      await expectMatches(`Patient?family=MART&${mine}`, [f.p2]);
      await expectMatches(`Patient?family=jean&${mine}`, []);
    });

    it('when searching given, then it starts-with-matches the given names only', async () => {
      await expectMatches(`Patient?given=zoe&${mine}`, [f.p3]);
      await expectMatches(`Patient?given=JEA&${mine}`, [f.p2]);
      await expectMatches(`Patient?given=durand&${mine}`, []);
    });

    it('when searching family:exact, then only the whole, case- and accent-identical value matches', async () => {
      await expectMatches(`Patient?family:exact=${enc(FAMILY1)}&${mine}`, [f.p1]);
      await expectMatches(`Patient?family:exact=${enc(FAMILY1.toLowerCase())}&${mine}`, []);
      await expectMatches(`Patient?family:exact=${enc(`Lefevre${tag}`)}&${mine}`, []);
      await expectMatches(`Patient?family:exact=${enc('Lefèvre')}&${mine}`, []);
    });

    it('when searching name:contains, then a value inside a name part matches, accent- and case-insensitively', async () => {
      await expectMatches(`Patient?name:contains=NEDIC&${mine}`, [f.p1]);
      await expectMatches(`Patient?family:contains=${tag.toUpperCase()}&${mine}`, [f.p1, f.p2, f.p3]);
      await expectMatches(`Patient?name:contains=qqq&${mine}`, []);
    });

    it('when a string value contains LIKE wildcards (% and _), then they match literally, not as wildcards', async () => {
      await expectMatches(`Patient?name=${enc('%')}&${mine}`, []);
      await expectMatches(`Patient?family:contains=${enc('_')}&${mine}`, []);
      await expectMatches(`Patient?name:contains=${enc('b%e')}&${mine}`, []);
    });

    it('when a string value lists names separated by commas, then any of them matches (OR)', async () => {
      await expectMatches(`Patient?given=jean,zoe&${mine}`, [f.p2, f.p3]);
    });

    it('when searching birthdate with a full date, then only that birth date matches', async () => {
      await expectMatches(`Patient?birthdate=1990-06-30&${mine}`, [f.p2]);
      await expectMatches(`Patient?birthdate=1990-06-29&${mine}`, []);
    });

    it('when searching birthdate with a partial date (year, year-month), then every birth date within it matches', async () => {
      await expectMatches(`Patient?birthdate=1990&${mine}`, [f.p2]);
      await expectMatches(`Patient?birthdate=2000-12&${mine}`, [f.p3]);
      await expectMatches(`Patient?birthdate=1980-02&${mine}`, []);
    });

    it('when searching birthdate=eq, then it behaves as no prefix', async () => {
      await expectMatches(`Patient?birthdate=eq1980-01-15&${mine}`, [f.p1]);
      await expectMatches(`Patient?birthdate=eq1980-01-16&${mine}`, []);
    });

    it('when searching birthdate=ne, then every other birth date matches', async () => {
      await expectMatches(`Patient?birthdate=ne1990-06-30&${mine}`, [f.p1, f.p3]);
      await expectMatches(`Patient?birthdate=ne1990&${mine}`, [f.p1, f.p3]);
    });

    it('when searching birthdate=gt and lt, then strictly later and earlier birth dates match', async () => {
      await expectMatches(`Patient?birthdate=gt1990-06-30&${mine}`, [f.p3]);
      await expectMatches(`Patient?birthdate=lt1990-06-30&${mine}`, [f.p1]);
      await expectMatches(`Patient?birthdate=gt2000-12-31&${mine}`, []);
    });

    it('when searching birthdate=ge and le, then the boundary date is included', async () => {
      await expectMatches(`Patient?birthdate=ge1990-06-30&${mine}`, [f.p2, f.p3]);
      await expectMatches(`Patient?birthdate=le1990-06-30&${mine}`, [f.p1, f.p2]);
      await expectMatches(`Patient?birthdate=le1980-01-14&${mine}`, []);
    });

    it('when searching birthdate=sa and eb with a year, then dates wholly after / before that year match', async () => {
      await expectMatches(`Patient?birthdate=sa1990&${mine}`, [f.p3]);
      await expectMatches(`Patient?birthdate=eb1990&${mine}`, [f.p1]);
      await expectMatches(`Patient?birthdate=sa2000&${mine}`, []);
    });

    it('when two date conditions are given, then both apply (a range)', async () => {
      await expectMatches(`Patient?birthdate=ge1985&birthdate=lt1995&${mine}`, [f.p2]);
    });

    it('when a date value is not a valid date, then the search fails with 400 INVALID_SEARCH_VALUE', async () => {
      await expectOutcome(await fhirFetch(`Patient?birthdate=2020-13-45&${mine}`), 400, 'INVALID_SEARCH_VALUE');
      await expectOutcome(await fhirFetch(`Patient?birthdate=yesterday&${mine}`), 400, 'INVALID_SEARCH_VALUE');
    });

    it('when a date is searched with the ap prefix, then the search fails with 400', async () => {
      await expectOutcome(await fhirFetch(`Patient?birthdate=ap1990-06-30&${mine}`), 400, 'UNSUPPORTED_SEARCH_FEATURE');
    });

    it('when a string or token is searched with a modifier of another type, then the search fails with 400', async () => {
      await expectOutcome(await fhirFetch(`Patient?gender:contains=fem&${mine}`), 400, 'UNSUPPORTED_SEARCH_FEATURE');
    });

    it('when a parameter has a modifier FHIR does not define, then the search fails with 400 instead of ignoring the modifier', async () => {
      await expectOutcome(await fhirFetch(`Patient?gender:foo=male&${mine}`), 400, 'UNSUPPORTED_SEARCH_FEATURE');
      await expectOutcome(await fhirFetch(`Patient?family:exact:contains=x&${mine}`), 400, 'UNSUPPORTED_SEARCH_FEATURE');
      await expectOutcome(await fhirFetch(`Patient?gender:Patient=male&${mine}`), 400, 'UNSUPPORTED_SEARCH_FEATURE');
    });
  });

  describe('common parameters', () => {
    it('when searching _id with a list of ids, then exactly those resources match', async () => {
      await expectMatches(`Patient?_id=${f.p1.id},${f.p3.id}`, [f.p1, f.p3]);
      await expectMatches(`Patient?_id=${f.d1.id}`, []);
    });

    it('when searching _id:not, then every other resource matches', async () => {
      await expectMatches(`Patient?_id:not=${f.p1.id}&${mine}`, [f.p2, f.p3]);
    });

    it('when searching _lastUpdated=ge a minute ago, then the resources just written match', async () => {
      const since = new Date(f.startedAt.getTime() - 60_000).toISOString();
      await expectMatches(`Patient?_lastUpdated=ge${enc(since)}&${mine}`, [f.p1, f.p2, f.p3]);
    });

    it('when searching _lastUpdated before the resources were written, then none matches', async () => {
      const before = new Date(f.startedAt.getTime() - 60_000).toISOString();
      await expectMatches(`Patient?_lastUpdated=lt${enc(before)}&${mine}`, []);
      await expectMatches(`Patient?_lastUpdated=2001&${mine}`, []);
    });

    it('when _lastUpdated is not a valid date, then the search fails with 400 INVALID_SEARCH_VALUE', async () => {
      await expectOutcome(await fhirFetch(`Patient?_lastUpdated=ge2020-02-30&${mine}`), 400, 'INVALID_SEARCH_VALUE');
    });
  });

  describe('Practitioner and Organization', () => {
    it('when searching Practitioner identifier, then only that practitioner matches', async () => {
      await expectMatches(`Practitioner?identifier=${enc(`${SYS}|pr1`)}`, [f.pr1]);
      await expectMatches(`Practitioner?identifier=${enc(`${SYS}|p1`)}`, []);
    });

    it('when searching Practitioner name by family or given, then it matches accent-insensitively', async () => {
      await expectMatches(`Practitioner?name=emile&${mine}`, [f.pr1]);
      await expectMatches(`Practitioner?name=docteur&${mine}`, [f.pr1]);
      await expectMatches(`Practitioner?name=martin&${mine}`, []);
    });

    it('when searching name:missing, then resources without a name match for true and with one for false', async () => {
      await expectMatches(`Practitioner?name:missing=true&${mine}`, [f.pr2]);
      await expectMatches(`Practitioner?name:missing=false&${mine}`, [f.pr1]);
    });

    it('when :missing has a value other than true or false, then the search fails with 400 INVALID_SEARCH_VALUE', async () => {
      await expectOutcome(await fhirFetch(`Practitioner?name:missing=maybe&${mine}`), 400, 'INVALID_SEARCH_VALUE');
    });

    it('when searching Organization identifier, then only that organization matches', async () => {
      await expectMatches(`Organization?identifier=${enc(`${SYS}|o2`)}`, [f.o2]);
      await expectMatches(`Organization?identifier=${enc(`${SYS}|o3`)}`, []);
    });

    it('when searching Organization name, then the name and the alias match, accent-insensitively', async () => {
      await expectMatches(`Organization?name=${enc('clinique saint-eloi')}&${mine}`, [f.o1]);
      await expectMatches(`Organization?name=cse${tag}&${mine}`, [f.o1]);
      await expectMatches(`Organization?name=HOPITAL&${mine}`, [f.o2]);
      await expectMatches(`Organization?name=pharmacie&${mine}`, []);
    });
  });

  describe('PractitionerRole', () => {
    const roles = (): string => `_id=${f.r1.id},${f.r2.id}`;

    it('when searching practitioner by id or Type/id, then the roles of that practitioner match', async () => {
      await expectMatches(`PractitionerRole?practitioner=${f.pr1.id}`, [f.r1]);
      await expectMatches(`PractitionerRole?practitioner=Practitioner/${f.pr2.id}`, [f.r2]);
      await expectMatches(`PractitionerRole?practitioner=Practitioner/${f.p1.id}`, []);
    });

    it('when searching organization, then the roles in that organization match', async () => {
      await expectMatches(`PractitionerRole?organization=Organization/${f.o1.id}`, [f.r1]);
      await expectMatches(`PractitionerRole?organization=${f.o2.id}&${roles()}`, [f.r2]);
      await expectMatches(`PractitionerRole?organization=${f.pr1.id}`, []);
    });

    it('when searching role, then roles with that code match', async () => {
      await expectMatches(`PractitionerRole?role=${enc(`${CS}|role-a`)}`, [f.r1]);
      await expectMatches(`PractitionerRole?role=role-b&${roles()}`, [f.r2]);
      await expectMatches(`PractitionerRole?role=${enc(`${CS}|role-c`)}`, []);
    });

    it('when searching specialty, then roles with that specialty match, and :missing finds the others', async () => {
      await expectMatches(`PractitionerRole?specialty=${enc(`${CS}|spec-a`)}`, [f.r1]);
      await expectMatches(`PractitionerRole?specialty=${enc(`${CS}|spec-b`)}`, []);
      await expectMatches(`PractitionerRole?specialty:missing=true&${roles()}`, [f.r2]);
    });

    it('when chaining practitioner.identifier, then roles of the practitioner with that identifier match', async () => {
      await expectMatches(`PractitionerRole?practitioner.identifier=${enc(`${SYS}|pr2`)}`, [f.r2]);
      await expectMatches(`PractitionerRole?practitioner.identifier=${enc(`${SYS}|o1`)}`, []);
    });
  });

  describe('DocumentReference', () => {
    const ofP1 = (): string => `patient=${f.p1.id}`;

    it('when searching patient=<id>, then the documents of that patient match', async () => {
      await expectMatches(`DocumentReference?patient=${f.p1.id}`, [f.d1, f.d2, f.d3]);
      await expectMatches(`DocumentReference?patient=${f.p3.id}`, []);
    });

    it('when searching patient=Patient/<id>, then the documents of that patient match', async () => {
      await expectMatches(`DocumentReference?patient=Patient/${f.p2.id}`, [f.d4]);
      await expectMatches(`DocumentReference?patient=Practitioner/${f.p2.id}`, []);
    });

    it('when searching patient with the absolute URL of the patient, then its documents match', async () => {
      const { fhirBase } = await getTestServer();
      await expectMatches(`DocumentReference?patient=${enc(`${fhirBase}/Patient/${f.p2.id}`)}`, [f.d4]);
    });

    it('when searching subject:Patient=<id>, then the documents whose subject is that patient match', async () => {
      await expectMatches(`DocumentReference?subject:Patient=${f.p1.id}`, [f.d1, f.d2, f.d3]);
      await expectMatches(`DocumentReference?subject:Practitioner=${f.p1.id}`, []);
    });

    it('when a type modifier is combined with another modifier (subject:Patient:missing), then the search fails with 400', async () => {
      await expectOutcome(await fhirFetch(`DocumentReference?subject:Patient:missing=true&${ofP1()}`), 400, 'UNSUPPORTED_SEARCH_FEATURE');
    });

    it('when searching subject=Patient/<id>, then the documents of that patient match', async () => {
      await expectMatches(`DocumentReference?subject=Patient/${f.p2.id}`, [f.d4]);
    });

    it('when a reference value lists several patients separated by commas, then any of them matches (OR)', async () => {
      await expectMatches(`DocumentReference?patient=${f.p2.id},${f.p3.id}`, [f.d4]);
    });

    it('when chaining patient.identifier=system|value, then the documents of the patient with that identifier match', async () => {
      await expectMatches(`DocumentReference?patient.identifier=${enc(`${SYS}|p2`)}`, [f.d4]);
      await expectMatches(`DocumentReference?patient.identifier=${enc(`${SYS}|p3`)}`, []);
    });

    it('when chaining patient.name, then the documents of patients with that name match', async () => {
      await expectMatches(`DocumentReference?patient.name=benedicte&${mine}`, [f.d1, f.d2, f.d3]);
    });

    it('when chaining author.name, then documents whose author (practitioner or organization) has that name match', async () => {
      await expectMatches(`DocumentReference?author.name=docteur${tag}`, [f.d1]);
      await expectMatches(`DocumentReference?author.name=${enc('clinique saint-éloi')}&${ofP1()}`, [f.d2]);
      await expectMatches(`DocumentReference?author.name=benedicte&${ofP1()}`, []);
    });

    it('when chaining with a type modifier (author:Organization.name), then only that target type is searched', async () => {
      await expectMatches(`DocumentReference?author:Organization.name=clinique&${ofP1()}`, [f.d2]);
      await expectMatches(`DocumentReference?author:Practitioner.name=clinique&${ofP1()}`, []);
    });

    it('when chaining a parameter the target does not have, then the search fails with 400 UNKNOWN_SEARCH_PARAM', async () => {
      await expectOutcome(await fhirFetch(`DocumentReference?patient.nothing=x&${ofP1()}`), 400, 'UNKNOWN_SEARCH_PARAM');
    });

    it('when searching author=Type/id, then documents by that author match', async () => {
      await expectMatches(`DocumentReference?author=Practitioner/${f.pr1.id}`, [f.d1]);
      await expectMatches(`DocumentReference?author=Organization/${f.o1.id}`, [f.d2]);
      await expectMatches(`DocumentReference?author=${f.pr2.id}`, []);
    });

    it('when searching author:missing, then documents without / with an author match', async () => {
      await expectMatches(`DocumentReference?author:missing=true&${ofP1()}`, [f.d3]);
      await expectMatches(`DocumentReference?author:missing=false&${ofP1()}`, [f.d1, f.d2]);
    });

    it('when searching identifier, then the document with that identifier matches, and repeated identifiers are ANDed', async () => {
      await expectMatches(`DocumentReference?identifier=${enc(`${SYS}|d3`)}`, [f.d3]);
      await expectMatches(`DocumentReference?identifier=${enc(`${SYS}|d1`)}&identifier=${enc(`${SYS}|d1b`)}`, [f.d1]);
      await expectMatches(`DocumentReference?identifier=${enc(`${SYS}|d1`)}&identifier=${enc(`${SYS}|d2`)}`, []);
    });

    it('when searching status, then documents with that status match', async () => {
      await expectMatches(`DocumentReference?status=current&${mine}`, [f.d1, f.d3]);
      await expectMatches(`DocumentReference?status=superseded,entered-in-error&${mine}`, [f.d2, f.d4]);
      await expectMatches(`DocumentReference?status=entered-in-error&${ofP1()}`, []);
    });

    it('when no status is searched, then only current documents match (IHE MHD ITI-67), and the self link says status=current', async () => {
      expect(await searchIds(`DocumentReference?${mine}`)).to.deep.equal(sorted(f.d1.id, f.d3.id));
      const bundle = (await (await fhirFetch(`DocumentReference?${mine}`)).json()) as Bundle;
      expect(bundle.link?.find((l) => l.relation === 'self')?.url).to.contain('status=current');
    });

    it('when searching type by code, by system|code and by system|, then the matching documents are found', async () => {
      await expectMatches(`DocumentReference?type=11488-4&${mine}`, [f.d1, f.d4]);
      await expectMatches(`DocumentReference?type=${enc(`${LOINC}|11488-4`)}&${mine}`, [f.d1, f.d4]);
      await expectMatches(`DocumentReference?type=${enc(`${LOINC}|`)}&${mine}`, [f.d1, f.d2, f.d4]);
      await expectMatches(`DocumentReference?type=${enc(`${CS}|11488-4`)}&${mine}`, []);
    });

    it('when searching type=|code, then only codings without a system match', async () => {
      await expectMatches(`DocumentReference?type=${enc(`|${NO_SYSTEM_CODE}`)}&${mine}`, [f.d3]);
      await expectMatches(`DocumentReference?type=${enc('|11488-4')}&${mine}`, []);
    });

    it('when searching type:not, then documents without that type match', async () => {
      await expectMatches(`DocumentReference?type:not=${enc(`${LOINC}|11488-4`)}&${ofP1()}`, [f.d2, f.d3]);
    });

    it('when searching category, then documents with that category match, and :missing finds those without', async () => {
      await expectMatches(`DocumentReference?category=${enc(`${CS}|cat-a`)}`, [f.d1]);
      await expectMatches(`DocumentReference?category=${enc(`${CS}|cat-z`)}`, []);
      await expectMatches(`DocumentReference?category:missing=true&${ofP1()}`, [f.d3]);
      await expectMatches(`DocumentReference?category:missing=false&${ofP1()}`, [f.d1, f.d2]);
    });

    it('when searching date with partial dates, then documents dated within them match', async () => {
      await expectMatches(`DocumentReference?date=2020&${mine}`, [f.d1]);
      await expectMatches(`DocumentReference?date=2020-03&${mine}`, [f.d1]);
      await expectMatches(`DocumentReference?date=2020-03-15&${mine}`, [f.d1]);
      await expectMatches(`DocumentReference?date=2020-03-16&${mine}`, []);
    });

    it('when searching date with prefixes, then documents before / after match', async () => {
      await expectMatches(`DocumentReference?date=ge2021-01-01&${mine}`, [f.d2, f.d4]);
      await expectMatches(`DocumentReference?date=lt2021&${mine}`, [f.d1]);
      await expectMatches(`DocumentReference?date=gt2022-01-01&${mine}`, []);
    });

    it('when searching date:missing=true, then undated documents match', async () => {
      await expectMatches(`DocumentReference?date:missing=true&${mine}`, [f.d3]);
    });

    it('when searching period with a value covering the whole period, then it matches; inside the period, it does not (eq)', async () => {
      await expectMatches(`DocumentReference?period=2020-03&${mine}`, [f.d1]);
      await expectMatches(`DocumentReference?period=2020&${mine}`, [f.d1]);
      await expectMatches(`DocumentReference?period=2020-03-15&${mine}`, []);
    });

    it('when searching period=ne, then the periods not within the value match', async () => {
      await expectMatches(`DocumentReference?period=ne2020-03&${mine}`, [f.d2]);
    });

    it('when searching period=gt / ge, then periods reaching after the value match, an open end included', async () => {
      await expectMatches(`DocumentReference?period=ge2021-06&${mine}`, [f.d2]);
      await expectMatches(`DocumentReference?period=gt2030&${mine}`, [f.d2]);
      await expectMatches(`DocumentReference?period=ge2020-03-31&${mine}`, [f.d1, f.d2]);
    });

    it('when searching period=lt / le, then periods starting before the value match', async () => {
      await expectMatches(`DocumentReference?period=lt2020-03-15&${mine}`, [f.d1]);
      await expectMatches(`DocumentReference?period=le2021-01-01&${mine}`, [f.d1, f.d2]);
      await expectMatches(`DocumentReference?period=lt2020-03-01&${mine}`, []);
    });

    it('when searching period=sa / eb, then periods wholly after / before the value match', async () => {
      await expectMatches(`DocumentReference?period=sa2020-12-31&${mine}`, [f.d2]);
      await expectMatches(`DocumentReference?period=eb2021&${mine}`, [f.d1]);
      await expectMatches(`DocumentReference?period=sa2020-03-15&${mine}`, [f.d2]);
      await expectMatches(`DocumentReference?period=eb2020-03-15&${mine}`, []);
    });

    it('when searching period:missing=true, then documents without a period match', async () => {
      await expectMatches(`DocumentReference?period:missing=true&${mine}`, [f.d3, f.d4]);
    });

    it('when searching facility, setting and event, then the document with those context codes matches', async () => {
      await expectMatches(`DocumentReference?facility=${enc(`${CS}|fac-a`)}`, [f.d1]);
      await expectMatches(`DocumentReference?setting=${enc(`${CS}|set-b`)}`, [f.d2]);
      await expectMatches(`DocumentReference?event=${enc(`${CS}|evt-a`)}`, [f.d1]);
    });

    it('when searching facility, setting and event with other codes, then nothing matches', async () => {
      await expectMatches(`DocumentReference?facility=${enc(`${CS}|fac-z`)}`, []);
      await expectMatches(`DocumentReference?setting=${enc(`${CS}|set-z`)}`, []);
      await expectMatches(`DocumentReference?event=${enc(`${CS}|evt-z`)}`, []);
    });

    it('when searching security-label, then documents with that confidentiality match', async () => {
      await expectMatches(`DocumentReference?security-label=${enc(`${CONFIDENTIALITY}|R`)}&${ofP1()}`, [f.d2]);
      await expectMatches(`DocumentReference?security-label=N&${ofP1()}`, [f.d1]);
      await expectMatches(`DocumentReference?security-label=V&${ofP1()}`, []);
    });

    it('when searching format, then documents with that format code match', async () => {
      await expectMatches(`DocumentReference?format=${enc(`${FORMAT_CODES}|urn:ihe:iti:xds:2017:mimeTypeSufficient`)}&${ofP1()}`, [f.d1]);
      await expectMatches(`DocumentReference?format=${enc(`${FORMAT_CODES}|urn:other`)}&${ofP1()}`, []);
    });

    it('when searching relatesto, then the documents relating to that document match', async () => {
      await expectMatches(`DocumentReference?relatesto=${f.d1.id}`, [f.d2]);
      await expectMatches(`DocumentReference?relatesto=DocumentReference/${f.d2.id}`, []);
    });

    it('when searching contenttype, then documents with an attachment of that MIME type match', async () => {
      await expectMatches(`DocumentReference?contenttype=${enc('application/pdf')}&${mine}`, [f.d1, f.d3, f.d4]);
      await expectMatches(`DocumentReference?contenttype=${enc('text/plain')}&${mine}`, [f.d2]);
      await expectMatches(`DocumentReference?contenttype=${enc('image/png')}&${mine}`, []);
    });

    it('when a reference parameter gets an unsupported modifier, then the search fails with 400', async () => {
      await expectOutcome(await fhirFetch(`DocumentReference?patient:contains=x`), 400);
    });
  });

  describe('List', () => {
    it('when searching patient, then the lists of that patient match', async () => {
      await expectMatches(`List?patient=${f.p1.id}`, [f.l1]);
      await expectMatches(`List?patient=${f.p3.id}`, []);
    });

    it('when searching code, then lists with that code match', async () => {
      await expectMatches(`List?code=${enc(`${CS}|list-b`)}`, [f.l2]);
      await expectMatches(`List?code=${enc(`${CS}|list-z`)}`, []);
    });

    it('when searching date, then lists dated within / before the value match', async () => {
      await expectMatches(`List?date=2022-05&${mine}`, [f.l1]);
      await expectMatches(`List?date=lt2020&${mine}`, [f.l2]);
      await expectMatches(`List?date=2020&${mine}`, []);
    });

    it('when searching identifier, then that list matches', async () => {
      await expectMatches(`List?identifier=${enc(`${SYS}|l1`)}`, [f.l1]);
      await expectMatches(`List?identifier=${enc(`${SYS}|l3`)}`, []);
    });

    it('when searching source, then lists from that source match, and :missing finds those without', async () => {
      await expectMatches(`List?source=Practitioner/${f.pr1.id}`, [f.l1]);
      await expectMatches(`List?source=Practitioner/${f.pr2.id}`, []);
      await expectMatches(`List?source:missing=true&${mine}`, [f.l2]);
    });

    it('when searching status, then lists with that status match', async () => {
      await expectMatches(`List?status=retired&${mine}`, [f.l2]);
      await expectMatches(`List?status=entered-in-error&${mine}`, []);
    });
  });

  describe('Consent', () => {
    const consents = `category=${enc(`${CS}|`)}`;

    it('when searching patient, then the consents of that patient match', async () => {
      await expectMatches(`Consent?patient=${f.p2.id}`, [f.c2]);
      await expectMatches(`Consent?patient=${f.p3.id}`, []);
    });

    it('when searching status, then consents with that status match', async () => {
      await expectMatches(`Consent?status=active&${consents}`, [f.c1]);
      await expectMatches(`Consent?status=rejected&${consents}`, []);
    });

    it('when searching category, then consents with that category match', async () => {
      await expectMatches(`Consent?category=${enc(`${CS}|cons-b`)}`, [f.c2]);
      await expectMatches(`Consent?category=${enc(`${CS}|cons-z`)}`, []);
    });

    it('when searching actor, then consents naming that actor in their provision match', async () => {
      await expectMatches(`Consent?actor=Practitioner/${f.pr1.id}`, [f.c1]);
      await expectMatches(`Consent?actor=${f.o1.id}`, [f.c2]);
      await expectMatches(`Consent?actor=Practitioner/${f.pr2.id}`, []);
    });

    it('when searching date, then consents recorded within / after the value match', async () => {
      await expectMatches(`Consent?date=2023-01-10&${consents}`, [f.c1]);
      await expectMatches(`Consent?date=gt2020&${consents}`, [f.c1]);
      await expectMatches(`Consent?date=2021&${consents}`, []);
    });
  });

  describe('AuditEvent (parameters accepted, no client-written data)', () => {
    const values: Record<string, () => string> = {
      patient: () => `Patient/${f.p1.id}`,
      agent: () => `Practitioner/${f.pr1.id}`,
      entity: () => `DocumentReference/${f.d1.id}`,
      date: () => 'ge2020-01-01',
      type: () => 'http://dicom.nema.org/resources/ontology/DCM|110110',
      subtype: () => 'http://hl7.org/fhir/restful-interaction|read',
      action: () => 'R',
      outcome: () => '0',
    };
    for (const code of SUPPORTED_SEARCH_PARAMS.AuditEvent) {
      it(`when searching AuditEvent?${code}=..., then the server answers a searchset Bundle (200)`, async () => {
        const value = values[code];
        expect(value, `test value for AuditEvent.${code}`).to.be.a('function');
        const bundle = await searchBundle(`AuditEvent?${code}=${enc(value())}`);
        expect(bundle.total).to.be.a('number');
      });
    }
  });
});
