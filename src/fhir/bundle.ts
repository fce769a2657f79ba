import type { Bundle, BundleEntry, BundleLink, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { SearchPage } from '../repo/search.js';
import type { StoredVersion } from '../repo/resource-repo.js';
import { encodeCursor, type ParsedSearch } from './search/request.js';

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

/** Elements always kept by `_elements` (FHIR R4 search.html#elements). */
const MANDATORY_ELEMENTS = new Set(['resourceType', 'id', 'meta']);

/** Keeps only the named top-level elements and marks the resource SUBSETTED. */
export function subsetElements(resource: Resource, elements: readonly string[]): Resource {
  const keep = new Set([...MANDATORY_ELEMENTS, ...elements]);
  const out = Object.fromEntries(Object.entries(resource).filter(([k]) => keep.has(k))) as Resource;
  out.meta = { ...(resource.meta ?? {}), tag: [...(resource.meta?.tag ?? []), SUBSETTED] };
  return out;
}

/** Builds a URL below the FHIR base with the given query parameters. */
export function pageUrl(fhirBase: string, path: string, params: [string, string][]): string {
  const qs = new URLSearchParams(params).toString();
  return `${fhirBase}/${path}${qs ? '?' + qs : ''}`;
}

/** The searchset Bundle of one page (FHIR R4 search results, match / include / outcome entries). */
export function searchsetBundle(
  fhirBase: string,
  path: string,
  search: ParsedSearch,
  page: SearchPage,
  outcome?: OperationOutcome
): Bundle {
  const withCursor = (cursor: string | undefined): [string, string][] =>
    cursor ? [...search.applied, ['_cursor', cursor]] : search.applied;
  const current = search.query.cursor ? encodeCursor(search.query.cursor) : undefined;
  const link: BundleLink[] = [{ relation: 'self', url: pageUrl(fhirBase, path, withCursor(current)) }];
  if (page.next) {
    link.push({ relation: 'next', url: pageUrl(fhirBase, path, withCursor(encodeCursor(page.next))) });
  }
  if (page.previous) {
    link.push({ relation: 'previous', url: pageUrl(fhirBase, path, withCursor(encodeCursor(page.previous))) });
  }
  const shape = (r: Resource): Resource => (search.elements ? subsetElements(r, search.elements) : r);
  const entry: BundleEntry[] = [
    ...page.matches.map((r) => ({ fullUrl: `${fhirBase}/${r.resourceType}/${r.id}`, resource: shape(r), search: { mode: 'match' as const } })),
    ...page.included.map((r) => ({ fullUrl: `${fhirBase}/${r.resourceType}/${r.id}`, resource: shape(r), search: { mode: 'include' as const } })),
  ];
  if (outcome) {
    entry.push({ resource: outcome, search: { mode: 'outcome' } });
  }
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(page.total !== undefined ? { total: page.total } : {}),
    link,
    ...(entry.length > 0 ? { entry } : {}),
  };
}

/** The history Bundle of a page of versions, newest first (FHIR R4 http.html#history). */
export function historyBundle(fhirBase: string, versions: StoredVersion[], type: string, link: BundleLink[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'history',
    link,
    entry: versions.map((v) => ({
      fullUrl: `${fhirBase}/${type}/${v.id}`,
      ...(v.resource ? { resource: v.resource } : {}),
      request: { method: v.method, url: v.method === 'POST' ? type : `${type}/${v.id}` },
      response: {
        status: v.deleted ? '204' : v.versionId === 1 ? '201' : '200',
        etag: `W/"${v.versionId}"`,
        lastModified: v.lastUpdated.toISOString(),
      },
    })),
  };
}
