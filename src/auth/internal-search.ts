import type { Resource } from '@medplum/fhirtypes';
import type { SupportedType } from '../fhir/resource-types.js';
import { parseSearch } from '../fhir/search/request.js';
import { INTERNAL } from '../policy/principal.js';
import { searchFilterFor } from '../policy/search-filter.js';
import type { ResourceRepo } from '../repo/resource-repo.js';
import { runSearch, type SearchQuery } from '../repo/search.js';

/** Most rows one internal search returns (the login flows need a handful, the demo login page a few hundred). */
const MAX_ROWS = 1000;

export interface InternalSearchResult<T extends Resource> {
  readonly matches: T[];
  readonly included: Resource[];
}

/**
 * A FHIR search run by the server itself (login, identity mapping), not on behalf of a caller: the
 * INTERNAL principal's security filter, the same parser and SQL as `/fhir` searches. `params` are
 * FHIR search parameters (`identifier=system|value`, `_include`, `_sort`...); `limit` caps the rows.
 */
export async function internalSearch<T extends Resource>(
  repo: ResourceRepo,
  type: SupportedType,
  params: Readonly<Record<string, string>>,
  limit: number
): Promise<InternalSearchResult<T>> {
  const count = Math.min(limit, MAX_ROWS);
  const raw = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, [v]]));
  const parsed = parseSearch(type, raw, { lenient: false, defaultCount: count, maxCount: count });
  const query: SearchQuery = { ...parsed.query, count, total: false };
  const page = await runSearch(repo.queryable, query, (t) => searchFilterFor(INTERNAL, t));
  return { matches: page.matches as T[], included: page.included };
}
