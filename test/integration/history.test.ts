import { expect } from 'chai';
import type { Bundle, Organization } from '@medplum/fhirtypes';
import { asBody, expectOutcome, fhirClient, fhirFetch, unique } from '../helpers/fhir.js';
import { getTestServer } from '../helpers/server.js';

const TEST_ID_SYSTEM = 'urn:test:history';

function organization(marker: string, name: string): Organization {
  return { resourceType: 'Organization', identifier: [{ system: TEST_ID_SYSTEM, value: marker }], name };
}

async function getBundle(path: string): Promise<Bundle<Organization>> {
  const res = await fhirFetch(path);
  const text = await res.text();
  expect(res.status, text).to.equal(200);
  const bundle = JSON.parse(text) as Bundle<Organization>;
  expect(bundle.resourceType).to.equal('Bundle');
  expect(bundle.type).to.equal('history');
  return bundle;
}

/** Path below /fhir of a paging link, which the server gives as an absolute URL. */
async function linkPath(bundle: Bundle, relation: string): Promise<string | undefined> {
  const url = bundle.link?.find((l) => l.relation === relation)?.url;
  if (!url) {
    return undefined;
  }
  const { fhirBase } = await getTestServer();
  expect(url.startsWith(`${fhirBase}/`), url).to.equal(true);
  return url.slice(fhirBase.length + 1);
}

/** Every entry of a history, following the next links (bounded, so a paging loop fails the test). */
async function allPages(first: string): Promise<{ pages: Bundle<Organization>[]; entries: NonNullable<Bundle<Organization>['entry']> }> {
  const pages: Bundle<Organization>[] = [];
  let path: string | undefined = first;
  while (path) {
    expect(pages.length, 'too many history pages').to.be.lessThan(50);
    const page = await getBundle(path);
    pages.push(page);
    path = await linkPath(page, 'next');
  }
  return { pages, entries: pages.flatMap((p) => p.entry ?? []) };
}

describe('history (GET [type]/[id]/_history, GET [type]/_history)', () => {
  describe('instance history after create, update, update, delete', () => {
    let id: string;
    let marker: string;
    let history: Bundle<Organization>;

    before(async () => {
      const client = await fhirClient();
      marker = unique('hist');
      const created = (await client.create({ resourceType: 'Organization', body: asBody(organization(marker, 'v1')) })) as Organization;
      id = created.id as string;
      await client.update({ resourceType: 'Organization', id, body: asBody({ ...organization(marker, 'v2'), id }) });
      await client.update({ resourceType: 'Organization', id, body: asBody({ ...organization(marker, 'v3'), id }) });
      await client.delete({ resourceType: 'Organization', id });
      history = (await client.resourceHistory({ resourceType: 'Organization', id })) as unknown as Bundle<Organization>;
    });

    it('when the history of a resource is read, then it is a history Bundle with one entry per version', () => {
      expect(history.resourceType).to.equal('Bundle');
      expect(history.type).to.equal('history');
      expect(history.entry).to.have.length(4);
    });

    it('when the history is read, then versions come newest first with their etags', () => {
      expect(history.entry?.map((e) => e.response?.etag)).to.deep.equal(['W/"4"', 'W/"3"', 'W/"2"', 'W/"1"']);
    });

    it('when the history is read, then each entry says which interaction made it', () => {
      expect(history.entry?.map((e) => e.request?.method)).to.deep.equal(['DELETE', 'PUT', 'PUT', 'POST']);
      expect(history.entry?.[0].request?.url).to.equal(`Organization/${id}`);
      expect(history.entry?.[3].request?.url).to.equal('Organization');
    });

    it('when the history holds a deletion, then that entry has no resource', () => {
      expect(history.entry?.[0].resource).to.equal(undefined);
      expect(history.entry?.[0].response?.status).to.match(/^(200|204)/);
    });

    it('when the history is read, then every other entry holds the resource as it was at that version', () => {
      const versions = history.entry?.slice(1).map((e) => [e.resource?.meta?.versionId, e.resource?.name, e.resource?.id]);
      expect(versions).to.deep.equal([
        ['3', 'v3', id],
        ['2', 'v2', id],
        ['1', 'v1', id],
      ]);
    });

    it('when the history is read, then last-modified times never increase from one entry to the next', () => {
      const times = (history.entry ?? []).map((e) => Date.parse(e.response?.lastModified as string));
      times.forEach((t) => expect(Number.isNaN(t)).to.equal(false));
      expect([...times].sort((a, b) => b - a)).to.deep.equal(times);
    });

    it('when the history is read with _count=1, then it pages through the next links to the same four versions', async () => {
      const { pages, entries } = await allPages(`Organization/${id}/_history?_count=1`);
      expect(pages).to.have.length(4);
      pages.forEach((p) => expect(p.entry).to.have.length(1));
      expect(entries.map((e) => e.response?.etag)).to.deep.equal(['W/"4"', 'W/"3"', 'W/"2"', 'W/"1"']);
      expect(await linkPath(pages[3], 'next')).to.equal(undefined);
    });

    it('when the history is read with _count=3, then the first page has 3 entries and a next link to the last one', async () => {
      const first = await getBundle(`Organization/${id}/_history?_count=3`);
      expect(first.entry?.map((e) => e.response?.etag)).to.deep.equal(['W/"4"', 'W/"3"', 'W/"2"']);
      const next = await linkPath(first, 'next');
      expect(next).to.be.a('string');
      const second = await getBundle(next as string);
      expect(second.entry?.map((e) => e.response?.etag)).to.deep.equal(['W/"1"']);
      expect(await linkPath(second, 'next')).to.equal(undefined);
    });

    it('when a history page is read, then it has a self link', async () => {
      const page = await getBundle(`Organization/${id}/_history?_count=2`);
      expect(await linkPath(page, 'self')).to.match(new RegExp(`^Organization/${id}/_history\\?`));
    });

    it('when each history version is read with vread, then the deletion is 410 and the others match the history', async () => {
      await expectOutcome(await fhirFetch(`Organization/${id}/_history/4`), 410, 'GONE');
      const res = await fhirFetch(`Organization/${id}/_history/2`);
      expect(res.status).to.equal(200);
      expect(((await res.json()) as Organization).name).to.equal('v2');
    });
  });

  describe('history of a resource written by a transaction', () => {
    it('when a transaction POST entry creates a resource, then its history says POST to the type, as for a plain create', async () => {
      const client = await fhirClient();
      const response = (await client.transaction({
        body: asBody({
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            {
              fullUrl: 'urn:uuid:0b9f7a4e-5d1c-4e8a-9a57-3f0c2d6b1e42',
              resource: organization(unique('txh'), 'created in a transaction'),
              request: { method: 'POST', url: 'Organization' },
            },
          ],
        }),
      })) as unknown as Bundle;
      const location = response.entry?.[0].response?.location as string;
      const id = /Organization\/([^/]+)\/_history\/1$/.exec(location)?.[1];
      expect(id, location).to.be.a('string');
      const history = await getBundle(`Organization/${id}/_history`);
      expect(history.entry?.map((e) => [e.request?.method, e.request?.url])).to.deep.equal([['POST', 'Organization']]);
    });
  });

  describe('type history', () => {
    let since: string;
    let ids: string[];
    let marker: string;

    before(async () => {
      const client = await fhirClient();
      since = new Date(Date.now() - 1).toISOString();
      marker = unique('type');
      const a = (await client.create({ resourceType: 'Organization', body: asBody(organization(marker, 'A')) })) as Organization;
      const b = (await client.create({ resourceType: 'Organization', body: asBody(organization(marker, 'B')) })) as Organization;
      await client.update({ resourceType: 'Organization', id: a.id as string, body: asBody({ ...organization(marker, 'A2'), id: a.id }) });
      ids = [a.id as string, b.id as string];
    });

    it('when the type history is read with _since before the writes, then it holds every one of them', async () => {
      const { entries } = await allPages(`Organization/_history?_since=${encodeURIComponent(since)}&_count=100`);
      const mine = entries.filter((e) => ids.includes(e.resource?.id as string));
      expect(mine.map((e) => `${e.resource?.name}@${e.response?.etag}`)).to.have.members(['A@W/"1"', 'B@W/"1"', 'A2@W/"2"']);
    });

    it('when the type history is read with _since before the writes, then no entry is older than _since', async () => {
      const { entries } = await allPages(`Organization/_history?_since=${encodeURIComponent(since)}&_count=100`);
      expect(entries.length).to.be.greaterThan(0);
      entries.forEach((e) => expect(Date.parse(e.response?.lastModified as string)).to.be.at.least(Date.parse(since)));
    });

    it('when the type history is paged with _count=1, then following next links gives the same entries as one page', async () => {
      const query = `_since=${encodeURIComponent(since)}`;
      const whole = await allPages(`Organization/_history?${query}&_count=100`);
      const paged = await allPages(`Organization/_history?${query}&_count=1`);
      const key = (e: { resource?: Organization; fullUrl?: string; response?: { etag?: string } }): string => `${e.fullUrl}@${e.response?.etag}`;
      expect(paged.entries.map(key)).to.deep.equal(whole.entries.map(key));
      expect(paged.pages.length).to.equal(whole.entries.length);
    });

    it('when the type history is read with _since after the writes, then it holds none of them', async () => {
      const later = new Date(Date.now() + 60_000).toISOString();
      const page = await getBundle(`Organization/_history?_since=${encodeURIComponent(later)}`);
      expect(page.entry ?? []).to.have.length(0);
    });
  });

  describe('errors', () => {
    it('when _since is not an instant, then the answer is 400 INVALID_SEARCH_VALUE', async () => {
      await expectOutcome(await fhirFetch('Organization/_history?_since=yesterday'), 400, 'INVALID_SEARCH_VALUE');
    });

    it('when _since is an impossible date, then the answer is 400 INVALID_SEARCH_VALUE', async () => {
      await expectOutcome(await fhirFetch('Organization/_history?_since=2024-02-30T10:00:00Z'), 400, 'INVALID_SEARCH_VALUE');
    });

    it('when _count is not a positive integer, then the answer is 400 INVALID_SEARCH_VALUE', async () => {
      await expectOutcome(await fhirFetch('Organization/_history?_count=abc'), 400, 'INVALID_SEARCH_VALUE');
    });

    it('when the history is asked with an unsupported parameter, then the answer is 400 UNKNOWN_SEARCH_PARAM', async () => {
      await expectOutcome(await fhirFetch('Organization/_history?name=x'), 400, 'UNKNOWN_SEARCH_PARAM');
    });

    it('when the _cursor is forged, then the answer is 400 INVALID_PAGE_CURSOR', async () => {
      await expectOutcome(await fhirFetch('Organization/_history?_cursor=not-a-cursor'), 400, 'INVALID_PAGE_CURSOR');
    });

    it('when the history of an unknown id is read, then the answer is 404 NOT_FOUND', async () => {
      await expectOutcome(await fhirFetch(`Organization/${unique('nope')}/_history`), 404, 'NOT_FOUND');
    });

    it('when the history of an unknown type is read, then the answer is 404 UNKNOWN_TYPE', async () => {
      await expectOutcome(await fhirFetch('Observation/_history'), 404, 'UNKNOWN_TYPE');
    });
  });
});
