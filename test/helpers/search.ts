import { expect } from 'chai';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { fhirFetch } from './fhir.js';

/** Creates a resource through the API (POST /fhir/<type>) and returns the stored resource; fails the test on any non-201. */
export async function createResource<T extends Resource>(resource: T): Promise<T & { id: string }> {
  const res = await fhirFetch(resource.resourceType, { method: 'POST', body: JSON.stringify(resource) });
  const text = await res.text();
  expect(res.status, `create ${resource.resourceType}: ${text}`).to.equal(201);
  return JSON.parse(text) as T & { id: string };
}

/** GET a search (path relative to /fhir, e.g. `Patient?name=x`), expects 200 and returns the searchset Bundle. */
export async function searchBundle(path: string, init: RequestInit = {}): Promise<Bundle> {
  const res = await fhirFetch(path, init);
  const text = await res.text();
  expect(res.status, `GET ${path}: ${text}`).to.equal(200);
  const bundle = JSON.parse(text) as Bundle;
  expect(bundle.resourceType).to.equal('Bundle');
  expect(bundle.type).to.equal('searchset');
  return bundle;
}

/** Entries of a search Bundle with the given search.mode (match by default). */
export function entriesOf(bundle: Bundle, mode: 'match' | 'include' | 'outcome' = 'match'): BundleEntry[] {
  return (bundle.entry ?? []).filter((e) => e.search?.mode === mode);
}

/** Ids of the match entries of a Bundle, in Bundle order. */
export function matchIds(bundle: Bundle): string[] {
  return entriesOf(bundle).map((e) => e.resource?.id as string);
}

/** Ids of the match entries of a search, sorted (for set comparisons). */
export async function searchIds(path: string): Promise<string[]> {
  return matchIds(await searchBundle(path)).sort();
}

/** Sorted copy of ids, to compare with searchIds(). */
export function sorted(...ids: string[]): string[] {
  return [...ids].sort();
}

/** The URL of a Bundle link relation, if present. */
export function linkOf(bundle: Bundle, relation: string): string | undefined {
  return bundle.link?.find((l) => l.relation === relation)?.url;
}
