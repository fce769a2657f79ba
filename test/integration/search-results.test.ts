import { expect } from 'chai';
import type { Bundle, DocumentReference, OperationOutcome, Organization, Patient, Practitioner, PractitionerRole } from '@medplum/fhirtypes';
import { ERROR_CODE_SYSTEM, CATALOGUE } from '../../src/fhir/outcomes.js';
import { expectOutcome, fhirFetch, testPatient, unique } from '../helpers/fhir.js';
import { createResource, entriesOf, linkOf, matchIds, searchBundle, sorted } from '../helpers/search.js';
import { getTestServer } from '../helpers/server.js';

const tag = unique('sr');
const SYS = `https://example.org/fhir/${tag}/id`;
const LOINC = 'http://loinc.org';
const SUBSETTED = 'SUBSETTED';

type Stored<T> = T & { id: string };

interface Fixture {
  patient: Stored<Patient>;
  practitioner: Stored<Practitioner>;
  organization: Stored<Organization>;
  role: Stored<PractitionerRole>;
  /** Documents of the patient, in creation order. */
  docs: Stored<DocumentReference>[];
  /** The same documents by date ascending; the undated one last. */
  byDate: Stored<DocumentReference>[];
}

let f: Fixture;

function doc(patientId: string, key: string, date: string | undefined, author: string): DocumentReference {
  return {
    resourceType: 'DocumentReference',
    identifier: [{ system: SYS, value: key }],
    status: 'current',
    type: { coding: [{ system: LOINC, code: '11488-4' }] },
    subject: { reference: `Patient/${patientId}` },
    ...(date ? { date } : {}),
    author: [{ reference: author }],
    description: `Document ${key}`,
    content: [{ attachment: { contentType: 'application/pdf', title: key } }],
  };
}

async function createFixture(): Promise<Fixture> {
  const [patient, practitioner, organization] = await Promise.all([
    createResource(testPatient({ identifier: [...testPatient().identifier!, { system: SYS, value: 'patient' }] })),
    createResource<Practitioner>({ resourceType: 'Practitioner', identifier: [{ system: SYS, value: 'pr' }], name: [{ family: `Auteur${tag}` }] }),
    createResource<Organization>({ resourceType: 'Organization', identifier: [{ system: SYS, value: 'org' }], name: `Org ${tag}` }),
  ]);
  const role = await createResource<PractitionerRole>({
    resourceType: 'PractitionerRole',
    practitioner: { reference: `Practitioner/${practitioner.id}` },
    organization: { reference: `Organization/${organization.id}` },
  });
  // Created one by one, in an order that differs from the date order, so _lastUpdated and date sorts differ.
  const plan: [string, string | undefined, string][] = [
    ['d3', '2021-01-03T10:00:00Z', `Practitioner/${practitioner.id}`],
    ['d1', '2021-01-01T10:00:00Z', `Organization/${organization.id}`],
    ['d5', '2021-01-05T10:00:00Z', `Practitioner/${practitioner.id}`],
    ['dx', undefined, `Organization/${organization.id}`],
    ['d2', '2021-01-02T10:00:00Z', `Practitioner/${practitioner.id}`],
    ['d4', '2021-01-04T10:00:00Z', `Organization/${organization.id}`],
  ];
  const docs: Stored<DocumentReference>[] = [];
  for (const [key, date, author] of plan) {
    docs.push(await createResource(doc(patient.id, key, date, author)));
  }
  const byKey = (k: string): Stored<DocumentReference> => docs.find((d) => d.identifier?.[0].value === k)!;
  const byDate = ['d1', 'd2', 'd3', 'd4', 'd5', 'dx'].map(byKey);
  return { patient, practitioner, organization, role, docs, byDate };
}

const ofPatient = (): string => `DocumentReference?patient=${f.patient.id}`;
const ids = (rs: { id: string }[]): string[] => rs.map((r) => r.id);
const byLastUpdatedThenId = (a: DocumentReference, b: DocumentReference): number =>
  (a.meta!.lastUpdated! < b.meta!.lastUpdated! ? -1 : a.meta!.lastUpdated! > b.meta!.lastUpdated! ? 1 : 0) || (a.id! < b.id! ? -1 : a.id! > b.id! ? 1 : 0);

function outcomeCodes(outcome: OperationOutcome): string[] {
  return outcome.issue.flatMap((i) => i.details?.coding ?? []).filter((c) => c.system === ERROR_CODE_SYSTEM).map((c) => c.code as string);
}

describe('search result parameters', function () {
  before(async () => {
    f = await createFixture();
  });

  describe('Bundle shape', () => {
    it('when a search matches, then every entry has an absolute fullUrl <fhirBase>/<Type>/<id>', async () => {
      const { fhirBase } = await getTestServer();
      const bundle = await searchBundle(`${ofPatient()}&_include=DocumentReference:subject`);
      expect(bundle.entry).to.have.length(7);
      for (const e of bundle.entry ?? []) {
        expect(e.fullUrl).to.equal(`${fhirBase}/${e.resource?.resourceType}/${e.resource?.id}`);
      }
    });

    it('when a search matches, then the Bundle has a self link on the FHIR base repeating the search', async () => {
      const { fhirBase } = await getTestServer();
      const self = linkOf(await searchBundle(`${ofPatient()}&status=current`), 'self');
      expect(self).to.be.a('string');
      const url = new URL(self!);
      expect(`${url.origin}${url.pathname}`).to.equal(`${fhirBase}/DocumentReference`);
      expect(url.searchParams.get('patient')).to.equal(f.patient.id);
      expect(url.searchParams.get('status')).to.equal('current');
    });

    it('when a search matches nothing, then the Bundle still has a self link, total 0 and no entries', async () => {
      const bundle = await searchBundle(`DocumentReference?identifier=${encodeURIComponent(`${SYS}|none`)}`);
      expect(linkOf(bundle, 'self')).to.be.a('string');
      expect(bundle.total).to.equal(0);
      expect(bundle.entry ?? []).to.have.length(0);
    });

    it('when no _total is given, then Bundle.total is the number of matches of the whole search, not of the page', async () => {
      const bundle = await searchBundle(`${ofPatient()}&_count=2`);
      expect(bundle.total).to.equal(6);
      expect(entriesOf(bundle)).to.have.length(2);
    });

    it('when _total=none, then the Bundle carries no total', async () => {
      const bundle = await searchBundle(`${ofPatient()}&_total=none`);
      expect(bundle).not.to.have.property('total');
      expect(entriesOf(bundle)).to.have.length(6);
    });

    it('when _total=accurate, then the Bundle carries the total', async () => {
      expect((await searchBundle(`${ofPatient()}&_total=accurate&_count=1`)).total).to.equal(6);
    });

    it('when _total has an unknown value, then the search fails with 400 INVALID_SEARCH_VALUE', async () => {
      await expectOutcome(await fhirFetch(`${ofPatient()}&_total=maybe`), 400, 'INVALID_SEARCH_VALUE');
    });
  });

  describe('_count', () => {
    it('when _count=3, then the page holds 3 matches and a next link', async () => {
      const bundle = await searchBundle(`${ofPatient()}&_count=3`);
      expect(entriesOf(bundle)).to.have.length(3);
      expect(linkOf(bundle, 'next')).to.be.a('string');
    });

    it('when _count is at least the number of matches, then there is no next link', async () => {
      const bundle = await searchBundle(`${ofPatient()}&_count=6`);
      expect(entriesOf(bundle)).to.have.length(6);
      expect(linkOf(bundle, 'next')).to.equal(undefined);
    });

    it('when _count=0, then no entries are returned but the total is', async () => {
      const bundle = await searchBundle(`${ofPatient()}&_count=0`);
      expect(bundle.entry ?? []).to.have.length(0);
      expect(bundle.total).to.equal(6);
    });

    it('when _count is not a non-negative integer, then the search fails with 400 INVALID_SEARCH_VALUE', async () => {
      await expectOutcome(await fhirFetch(`${ofPatient()}&_count=-1`), 400, 'INVALID_SEARCH_VALUE');
      await expectOutcome(await fhirFetch(`${ofPatient()}&_count=ten`), 400, 'INVALID_SEARCH_VALUE');
    });
  });

  describe('_sort', () => {
    it('when _sort=date, then matches come oldest first, the undated one last', async () => {
      expect(matchIds(await searchBundle(`${ofPatient()}&_sort=date`))).to.deep.equal(ids(f.byDate));
    });

    it('when _sort=-date, then matches come newest first, the undated one still last', async () => {
      const expected = [...f.byDate.slice(0, 5).reverse(), f.byDate[5]];
      expect(matchIds(await searchBundle(`${ofPatient()}&_sort=-date`))).to.deep.equal(ids(expected));
    });

    it('when _sort=_lastUpdated, then matches come in the order they were written', async () => {
      const expected = [...f.docs].sort(byLastUpdatedThenId);
      expect(matchIds(await searchBundle(`${ofPatient()}&_sort=_lastUpdated`))).to.deep.equal(ids(expected));
    });

    it('when _sort=-_lastUpdated,_id, then matches come newest write first, ties by id', async () => {
      const expected = [...f.docs].sort((a, b) => byLastUpdatedThenId(b, a) || (a.id < b.id ? -1 : 1));
      expect(matchIds(await searchBundle(`${ofPatient()}&_sort=-_lastUpdated,_id`))).to.deep.equal(ids(expected));
    });

    it('when _sort=_id and _sort=-_id, then matches come in id order and reverse id order', async () => {
      const asc = [...ids(f.docs)].sort();
      expect(matchIds(await searchBundle(`${ofPatient()}&_sort=_id`))).to.deep.equal(asc);
      expect(matchIds(await searchBundle(`${ofPatient()}&_sort=-_id`))).to.deep.equal([...asc].reverse());
    });

    it('when _sort names a parameter that is not a date, then the search fails with 400 UNSUPPORTED_SEARCH_FEATURE', async () => {
      await expectOutcome(await fhirFetch(`${ofPatient()}&_sort=status`), 400, 'UNSUPPORTED_SEARCH_FEATURE');
    });
  });

  describe('_summary and _elements', () => {
    it('when _summary=count, then the Bundle has the total and no entries', async () => {
      const bundle = await searchBundle(`${ofPatient()}&_summary=count`);
      expect(bundle.total).to.equal(6);
      expect(bundle.entry ?? []).to.have.length(0);
      expect(linkOf(bundle, 'self')).to.be.a('string');
    });

    it('when _summary=count and _total=none are combined, then the total is still given', async () => {
      expect((await searchBundle(`${ofPatient()}&_summary=count&_total=none`)).total).to.equal(6);
    });

    it('when _summary=false, then full resources are returned', async () => {
      const bundle = await searchBundle(`${ofPatient()}&_summary=false&_count=1`);
      expect(entriesOf(bundle)[0].resource).to.have.property('content');
    });

    it('when _summary has an unsupported value, then the search fails with 400 UNSUPPORTED_SEARCH_FEATURE', async () => {
      await expectOutcome(await fhirFetch(`${ofPatient()}&_summary=true`), 400, 'UNSUPPORTED_SEARCH_FEATURE');
    });

    it('when _elements=identifier, then each match keeps only resourceType, id, meta and identifier, tagged SUBSETTED', async () => {
      const bundle = await searchBundle(`${ofPatient()}&_elements=identifier`);
      const entries = entriesOf(bundle);
      expect(entries).to.have.length(6);
      for (const e of entries) {
        const r = e.resource as DocumentReference;
        expect(Object.keys(r).sort()).to.deep.equal(['id', 'identifier', 'meta', 'resourceType']);
        expect(r.identifier?.[0].system).to.equal(SYS);
        expect(r.meta?.tag?.map((t) => t.code)).to.include(SUBSETTED);
      }
    });

    it('when _elements is not given, then matches are not tagged SUBSETTED', async () => {
      const bundle = await searchBundle(`${ofPatient()}&_count=1`);
      const r = entriesOf(bundle)[0].resource as DocumentReference;
      expect(r.content).to.have.length(1);
      expect((r.meta?.tag ?? []).map((t) => t.code)).not.to.include(SUBSETTED);
    });
  });

  describe('_include and _revinclude', () => {
    it('when _include=DocumentReference:subject, then the patient is added once as an include entry, not counted in total', async () => {
      const bundle = await searchBundle(`${ofPatient()}&_include=DocumentReference:subject`);
      expect(bundle.total).to.equal(6);
      expect(entriesOf(bundle)).to.have.length(6);
      const included = entriesOf(bundle, 'include');
      expect(included.map((e) => `${e.resource?.resourceType}/${e.resource?.id}`)).to.deep.equal([`Patient/${f.patient.id}`]);
    });

    it('when _include=DocumentReference:author:Practitioner, then only practitioner authors are included', async () => {
      const bundle = await searchBundle(`${ofPatient()}&_include=DocumentReference:author:Practitioner`);
      const included = entriesOf(bundle, 'include');
      expect(included.map((e) => `${e.resource?.resourceType}/${e.resource?.id}`)).to.deep.equal([`Practitioner/${f.practitioner.id}`]);
      expect(bundle.total).to.equal(6);
    });

    it('when _include=DocumentReference:author without a type, then every author type is included', async () => {
      const bundle = await searchBundle(`${ofPatient()}&_include=DocumentReference:author`);
      const included = entriesOf(bundle, 'include').map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
      expect(included.sort()).to.deep.equal([`Organization/${f.organization.id}`, `Practitioner/${f.practitioner.id}`].sort());
    });

    it('when _include is used on a page, then only the targets of that page are included', async () => {
      const bundle = await searchBundle(`${ofPatient()}&_sort=date&_count=1&_include=DocumentReference:author`);
      const included = entriesOf(bundle, 'include').map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
      expect(included).to.deep.equal([`Organization/${f.organization.id}`]);
    });

    it('when _revinclude=DocumentReference:subject on Patient, then the documents are include entries and total counts the patient only', async () => {
      const bundle = await searchBundle(`Patient?_id=${f.patient.id}&_revinclude=DocumentReference:subject`);
      expect(bundle.total).to.equal(1);
      expect(matchIds(bundle)).to.deep.equal([f.patient.id]);
      const included = entriesOf(bundle, 'include');
      expect(included.every((e) => e.resource?.resourceType === 'DocumentReference')).to.equal(true);
      expect(included.map((e) => e.resource?.id as string).sort()).to.deep.equal(sorted(...ids(f.docs)));
    });

    it('when _revinclude=PractitionerRole:practitioner on Practitioner, then the roles of the practitioner are included', async () => {
      const bundle = await searchBundle(`Practitioner?_id=${f.practitioner.id}&_revinclude=PractitionerRole:practitioner`);
      expect(bundle.total).to.equal(1);
      expect(entriesOf(bundle, 'include').map((e) => `${e.resource?.resourceType}/${e.resource?.id}`)).to.deep.equal([`PractitionerRole/${f.role.id}`]);
    });

    it('when _include:iterate is asked, then the search fails with 400 UNSUPPORTED_SEARCH_FEATURE', async () => {
      await expectOutcome(await fhirFetch(`${ofPatient()}&_include:iterate=DocumentReference:subject`), 400, 'UNSUPPORTED_SEARCH_FEATURE');
    });

    it('when _include names a parameter that is not a reference, then the search fails with 400 INVALID_SEARCH_VALUE', async () => {
      await expectOutcome(await fhirFetch(`${ofPatient()}&_include=DocumentReference:status`), 400, 'INVALID_SEARCH_VALUE');
    });

    it('when _include starts with another type than the searched one, then the search fails with 400 INVALID_SEARCH_VALUE', async () => {
      await expectOutcome(await fhirFetch(`${ofPatient()}&_include=PractitionerRole:practitioner`), 400, 'INVALID_SEARCH_VALUE');
    });
  });

  describe('deleted resources', () => {
    let patientId: string;
    let kept: string;

    before(async () => {
      const patient = await createResource(testPatient());
      patientId = patient.id;
      const [a, b] = await Promise.all([createResource(doc(patient.id, 'del-a', undefined, `Patient/${patient.id}`)), createResource(doc(patient.id, 'del-b', undefined, `Patient/${patient.id}`))]);
      kept = a.id;
      const res = await fhirFetch(`DocumentReference/${b.id}`, { method: 'DELETE' });
      expect(res.status, await res.text()).to.equal(200);
    });

    it('when a matching resource was deleted, then the search neither returns nor counts it', async () => {
      const bundle = await searchBundle(`DocumentReference?patient=${patientId}`);
      expect(matchIds(bundle)).to.deep.equal([kept]);
      expect(bundle.total).to.equal(1);
    });

    it('when a resource that would be revincluded was deleted, then it is not included', async () => {
      const bundle = await searchBundle(`Patient?_id=${patientId}&_revinclude=DocumentReference:subject`);
      expect(entriesOf(bundle, 'include').map((e) => e.resource?.id)).to.deep.equal([kept]);
    });
  });

  describe('unknown parameters', () => {
    it('when a search has an unknown parameter, then it fails with 400 UNKNOWN_SEARCH_PARAM naming it', async () => {
      const outcome = await expectOutcome(await fhirFetch(`${ofPatient()}&colour=blue`), 400, 'UNKNOWN_SEARCH_PARAM');
      expect(outcome.issue[0].expression).to.deep.equal(['colour']);
      expect(outcome.issue[0].details?.text).to.contain('colour');
    });

    it('when a search uses a real FHIR parameter this server does not support, then it fails with 400 UNKNOWN_SEARCH_PARAM', async () => {
      const outcome = await expectOutcome(await fhirFetch(`${ofPatient()}&description=Document`), 400, 'UNKNOWN_SEARCH_PARAM');
      expect(outcome.issue[0].expression).to.deep.equal(['description']);
    });

    it('when Prefer: handling=lenient, then the unknown parameter is ignored and the same matches come back', async () => {
      const bundle = await searchBundle(`${ofPatient()}&colour=blue`, { headers: { prefer: 'handling=lenient' } });
      expect(matchIds(bundle).sort()).to.deep.equal(sorted(...ids(f.docs)));
      expect(bundle.total).to.equal(6);
    });

    it('when Prefer: handling=lenient, then the ignored parameter is left out of the self link', async () => {
      const bundle = await searchBundle(`${ofPatient()}&colour=blue`, { headers: { prefer: 'handling=lenient' } });
      const self = new URL(linkOf(bundle, 'self')!);
      expect(self.searchParams.has('colour')).to.equal(false);
      expect(self.searchParams.get('patient')).to.equal(f.patient.id);
    });

    it('when Prefer: handling=lenient, then an OperationOutcome entry (search.mode=outcome, warning) names the ignored parameter', async () => {
      const bundle = await searchBundle(`${ofPatient()}&colour=blue`, { headers: { prefer: 'handling=lenient' } });
      const outcomes = entriesOf(bundle, 'outcome');
      expect(outcomes).to.have.length(1);
      const outcome = outcomes[0].resource as OperationOutcome;
      expect(outcome.resourceType).to.equal('OperationOutcome');
      expect(outcome.issue[0].severity).to.equal('warning');
      expect(outcome.issue[0].expression).to.deep.equal(['colour']);
      expect(outcomeCodes(outcome)).to.deep.equal([CATALOGUE.SEARCH_PARAM_IGNORED.id]);
    });

    it('when Prefer: handling=lenient and every parameter is known, then there is no outcome entry', async () => {
      const bundle = await searchBundle(ofPatient(), { headers: { prefer: 'handling=lenient' } });
      expect(entriesOf(bundle, 'outcome')).to.have.length(0);
    });

    it('when Prefer: handling=strict, then an unknown parameter fails with 400 UNKNOWN_SEARCH_PARAM', async () => {
      await expectOutcome(await fhirFetch(`${ofPatient()}&colour=blue`, { headers: { prefer: 'handling=strict' } }), 400, 'UNKNOWN_SEARCH_PARAM');
    });
  });

  describe('POST _search', () => {
    const form = (): URLSearchParams =>
      new URLSearchParams([
        ['patient', f.patient.id],
        ['_sort', '-date'],
        ['_count', '4'],
      ]);

    it('when the search is POSTed form-encoded to <Type>/_search, then it gives the same matches, order and total as GET', async () => {
      const get = await searchBundle(`DocumentReference?${form().toString()}`);
      const res = await fhirFetch('DocumentReference/_search', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form().toString(),
      });
      const text = await res.text();
      expect(res.status, text).to.equal(200);
      const post = JSON.parse(text) as Bundle;
      expect(post.type).to.equal('searchset');
      expect(matchIds(post)).to.deep.equal(matchIds(get));
      expect(matchIds(post)).to.have.length(4);
      expect(post.total).to.equal(get.total);
    });

    it('when a POST _search mixes URL and body parameters, then both apply', async () => {
      const res = await fhirFetch(`DocumentReference/_search?patient=${f.patient.id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams([['date', '2021-01-03']]).toString(),
      });
      const text = await res.text();
      expect(res.status, text).to.equal(200);
      expect(matchIds(JSON.parse(text) as Bundle)).to.deep.equal([f.byDate[2].id]);
    });

    it('when a POST _search has an unknown parameter in the body, then it fails with 400 UNKNOWN_SEARCH_PARAM', async () => {
      const res = await fhirFetch('DocumentReference/_search', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams([['patient', f.patient.id], ['colour', 'blue']]).toString(),
      });
      await expectOutcome(res, 400, 'UNKNOWN_SEARCH_PARAM');
    });
  });
});
