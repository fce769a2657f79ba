import { expect } from 'chai';
import type { Client } from 'fhir-kit-client';
import type { Bundle, DocumentReference, Practitioner } from '@medplum/fhirtypes';
import { expectOutcome, fhirClient, fhirFetch, testPatient, unique } from '../helpers/fhir.js';
import { createResource, entriesOf, linkOf, matchIds, searchBundle } from '../helpers/search.js';

const LOINC = 'http://loinc.org';
const DAY = 86_400_000;

type PagingBundle = Bundle & { link: { relation: string; url: string }[] };

/** A DocumentReference of the patient dated `day` days after 2020-01-01. */
function dayDoc(patientId: string, day: number): DocumentReference {
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    type: { coding: [{ system: LOINC, code: '11488-4' }] },
    subject: { reference: `Patient/${patientId}` },
    date: new Date(Date.UTC(2020, 0, 1) + day * DAY).toISOString(),
    content: [{ attachment: { contentType: 'application/pdf' } }],
  };
}

/** A new patient with n documents dated on days firstDay, firstDay+1, ... Returns the patient id and the documents. */
async function patientWithDocs(n: number, firstDay = 100): Promise<{ patientId: string; docs: (DocumentReference & { id: string })[] }> {
  const patient = await createResource(testPatient());
  const docs = await Promise.all(Array.from({ length: n }, (_, i) => createResource(dayDoc(patient.id, firstDay + i))));
  return { patientId: patient.id, docs };
}

async function search(client: Client, searchParams: Record<string, string | number>): Promise<PagingBundle> {
  return (await client.search({ resourceType: 'DocumentReference', searchParams })) as unknown as PagingBundle;
}

async function next(client: Client, bundle: PagingBundle): Promise<PagingBundle> {
  const page = client.nextPage({ bundle: bundle as never });
  expect(page, 'a next link').not.to.equal(undefined);
  return (await page) as unknown as PagingBundle;
}

async function previous(client: Client, bundle: PagingBundle): Promise<PagingBundle> {
  const page = client.prevPage({ bundle: bundle as never });
  expect(page, 'a previous link').not.to.equal(undefined);
  return (await page) as unknown as PagingBundle;
}

/** Follows next links from the first page to the last; returns every page. */
async function allPages(client: Client, first: PagingBundle): Promise<PagingBundle[]> {
  const pages = [first];
  while (linkOf(pages[pages.length - 1], 'next')) {
    pages.push(await next(client, pages[pages.length - 1]));
    expect(pages.length, 'pages').to.be.below(20);
  }
  return pages;
}

/** Replaces the _cursor of a paging link. */
function withCursor(url: string, cursor: string): string {
  const u = new URL(url);
  u.searchParams.set('_cursor', cursor);
  return `${u.pathname.replace(/^\/fhir\//, '')}${u.search}`;
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('search paging (fhir-kit-client)', function () {
  let client: Client;
  let fixed: { patientId: string; docs: (DocumentReference & { id: string })[] };

  before(async () => {
    client = await fhirClient();
    fixed = await patientWithDocs(25);
  });

  describe('following next and previous links', () => {
    it('when 25 matches are paged with _count=10, then there are 3 pages of 10, 10 and 5 and the last has no next link', async () => {
      const pages = await allPages(client, await search(client, { patient: fixed.patientId, _count: 10 }));
      expect(pages.map((p) => entriesOf(p).length)).to.deep.equal([10, 10, 5]);
      expect(linkOf(pages[2], 'next')).to.equal(undefined);
    });

    it('when 25 matches are paged with _count=10, then every match is returned exactly once', async () => {
      const pages = await allPages(client, await search(client, { patient: fixed.patientId, _count: 10 }));
      const seen = pages.flatMap(matchIds);
      expect(seen).to.have.length(25);
      expect([...seen].sort()).to.deep.equal(fixed.docs.map((d) => d.id).sort());
    });

    it('when paging, then every page carries the total of the whole search and a self link', async () => {
      const pages = await allPages(client, await search(client, { patient: fixed.patientId, _count: 10 }));
      for (const page of pages) {
        expect(page.total).to.equal(25);
        expect(linkOf(page, 'self')).to.be.a('string');
      }
    });

    it('when on the first page, then there is no previous link', async () => {
      const first = await search(client, { patient: fixed.patientId, _count: 10 });
      expect(linkOf(first, 'previous')).to.equal(undefined);
      expect(client.prevPage({ bundle: first as never })).to.equal(undefined);
    });

    it('when following previous from page 2, then page 1 comes back with the same matches in the same order', async () => {
      const first = await search(client, { patient: fixed.patientId, _count: 10 });
      const second = await next(client, first);
      const back = await previous(client, second);
      expect(matchIds(back)).to.deep.equal(matchIds(first));
    });

    it('when following previous from the last page, then the second page comes back', async () => {
      const [, second, third] = await allPages(client, await search(client, { patient: fixed.patientId, _count: 10 }));
      const back = await previous(client, third);
      expect(matchIds(back)).to.deep.equal(matchIds(second));
      expect(linkOf(back, 'next')).to.be.a('string');
      expect(linkOf(back, 'previous')).to.be.a('string');
    });

    it('when paging with _sort=-date, then the pages follow the dates newest first without gaps or repeats', async () => {
      const pages = await allPages(client, await search(client, { patient: fixed.patientId, _count: 10, _sort: '-date' }));
      const expected = [...fixed.docs].sort((a, b) => (a.date! < b.date! ? 1 : -1)).map((d) => d.id);
      expect(pages.flatMap(matchIds)).to.deep.equal(expected);
    });

    it('when paging with _sort=-date, then previous from page 3 gives back page 2', async () => {
      const [, second, third] = await allPages(client, await search(client, { patient: fixed.patientId, _count: 10, _sort: '-date' }));
      expect(matchIds(await previous(client, third))).to.deep.equal(matchIds(second));
    });

    it('when paging, then the next link keeps the search parameters', async () => {
      const first = await search(client, { patient: fixed.patientId, _count: 10, _sort: '-date' });
      const url = new URL(linkOf(first, 'next')!);
      expect(url.searchParams.get('patient')).to.equal(fixed.patientId);
      expect(url.searchParams.get('_count')).to.equal('10');
      expect(url.searchParams.get('_sort')).to.equal('-date');
      expect(url.searchParams.get('_cursor')).to.be.a('string');
    });
  });

  describe('rows added while paging (default order)', () => {
    let original: string[];
    let added: string[];
    let seen: string[];

    before(async () => {
      const { patientId, docs } = await patientWithDocs(12);
      original = docs.map((d) => d.id);
      const first = await search(client, { patient: patientId, _count: 5 });
      added = (await Promise.all([500, 501, 502].map((day) => createResource(dayDoc(patientId, day))))).map((d) => d.id);
      seen = (await allPages(client, first)).flatMap(matchIds);
    });

    it('when matches are added between page 1 and page 2, then every original match is still returned exactly once', async () => {
      const originalSeen = seen.filter((id) => original.includes(id));
      expect([...originalSeen].sort()).to.deep.equal([...original].sort());
    });

    it('when matches are added between page 1 and page 2, then no row is returned twice and only matching rows appear', async () => {
      expect(new Set(seen).size).to.equal(seen.length);
      expect(seen.every((id) => original.includes(id) || added.includes(id))).to.equal(true);
    });

    it('when matches are added between page 1 and page 2, then (default order = oldest write first) the added rows come after every original row', async () => {
      expect([...seen.slice(0, original.length)].sort()).to.deep.equal([...original].sort());
      expect([...seen.slice(original.length)].sort()).to.deep.equal([...added].sort());
    });
  });

  describe('rows added while paging (_sort=_lastUpdated)', () => {
    let original: string[];
    let added: string[];
    let seen: string[];

    before(async () => {
      const { patientId, docs } = await patientWithDocs(12);
      original = [...docs].sort((a, b) => (a.meta!.lastUpdated! < b.meta!.lastUpdated! ? -1 : a.meta!.lastUpdated! > b.meta!.lastUpdated! ? 1 : a.id < b.id ? -1 : 1)).map((d) => d.id);
      const first = await search(client, { patient: patientId, _count: 5, _sort: '_lastUpdated' });
      added = [];
      for (const day of [500, 501]) {
        added.push((await createResource(dayDoc(patientId, day))).id);
      }
      seen = (await allPages(client, first)).flatMap(matchIds);
    });

    it('when matches are added between page 1 and page 2, then the original rows come in write order and the new rows at the end', async () => {
      expect(seen).to.deep.equal([...original, ...added]);
    });
  });

  describe('rows added while paging (_sort=-date)', () => {
    let originalByDate: string[];
    let olderByDate: string[];
    let seen: string[];

    before(async () => {
      const { patientId, docs } = await patientWithDocs(12, 100);
      originalByDate = [...docs].sort((a, b) => (a.date! < b.date! ? 1 : -1)).map((d) => d.id);
      const first = await search(client, { patient: patientId, _count: 5, _sort: '-date' });
      const [older, newer] = await Promise.all([
        Promise.all([10, 11].map((day) => createResource(dayDoc(patientId, day)))),
        Promise.all([900, 901].map((day) => createResource(dayDoc(patientId, day)))),
      ]);
      expect(newer).to.have.length(2);
      olderByDate = [...older].sort((a, b) => (a.date! < b.date! ? 1 : -1)).map((d) => d.id);
      seen = (await allPages(client, first)).flatMap(matchIds);
    });

    it('when older and newer matches are added between page 1 and page 2, then the original rows come in date order without gaps or repeats', async () => {
      expect(seen.slice(0, originalByDate.length)).to.deep.equal(originalByDate);
    });

    it('when older matches are added while paging newest first, then they appear at the end', async () => {
      expect(seen.slice(originalByDate.length)).to.deep.equal(olderByDate);
    });

    it('when newer matches are added while paging newest first, then they do not show up on later pages', async () => {
      expect(seen).to.have.length(originalByDate.length + olderByDate.length);
    });
  });

  describe('cursor and _count limits', () => {
    it('when the _cursor is not one the server wrote, then the page request fails with 400 INVALID_PAGE_CURSOR', async () => {
      const first = await search(client, { patient: fixed.patientId, _count: 10 });
      const link = linkOf(first, 'next')!;
      await expectOutcome(await fhirFetch(withCursor(link, 'not-a-cursor')), 400, 'INVALID_PAGE_CURSOR');
      await expectOutcome(await fhirFetch(withCursor(link, b64({ after: 'x' }))), 400, 'INVALID_PAGE_CURSOR');
    });

    it('when a _cursor has the wrong number of sort keys for the search, then the page request fails with 400 INVALID_PAGE_CURSOR', async () => {
      const first = await search(client, { patient: fixed.patientId, _count: 10 });
      const link = linkOf(first, 'next')!;
      await expectOutcome(await fhirFetch(withCursor(link, b64(['a', '2020-01-01T00:00:00.000Z', 'x', 'y']))), 400, 'INVALID_PAGE_CURSOR');
      await expectOutcome(await fhirFetch(withCursor(link, b64(['a', 'x']))), 400, 'INVALID_PAGE_CURSOR');
    });

    it('when a _cursor carries a sort key that is not a date where a date is expected, then the page request fails with 400 INVALID_PAGE_CURSOR', async () => {
      const first = await search(client, { patient: fixed.patientId, _count: 10, _sort: '-date' });
      const link = linkOf(first, 'next')!;
      await expectOutcome(await fhirFetch(withCursor(link, b64(['a', 'not-a-date', 'some-id']))), 400, 'INVALID_PAGE_CURSOR');
    });

    it('when _count is above the server cap (100), then the page is cut to 100 matches with a next link', async () => {
      const system = `https://example.org/fhir/${unique('pg')}/id`;
      await Promise.all(
        Array.from({ length: 103 }, (_, i) =>
          createResource<Practitioner>({ resourceType: 'Practitioner', identifier: [{ system, value: `pr${i}` }] })
        )
      );
      const bundle = await searchBundle(`Practitioner?identifier=${encodeURIComponent(`${system}|`)}&_count=500`);
      expect(bundle.total).to.equal(103);
      expect(entriesOf(bundle)).to.have.length(100);
      expect(linkOf(bundle, 'next')).to.be.a('string');
    });
  });
});
