import type { BundleLink } from '@medplum/fhirtypes';
import { historyBundle, pageUrl } from '../bundle.js';
import { assertReadable } from '../../policy/access.js';
import { searchFilterFor } from '../../policy/search-filter.js';
import { assertDmpAccess, combineFilters, dmpRulesApply, dmpSearchFilter, mayReadVersion } from '../../policy/dmp-gate.js';
import type { StoredVersion } from '../../repo/resource-repo.js';
import { assertNotWithdrawn, withdrawnIds } from '../../mhd/withdrawal.js';
import { assertDeletionVisible } from './crud.handler.js';
import { FhirError } from '../outcomes.js';
import { parseDateRange } from '../search/date-range.js';
import type { SupportedType } from '../resource-types.js';
import type { FhirRequest, FhirResponse, HandlerContext } from '../types.js';

const HISTORY_PARAMS = new Set(['_count', '_since', '_cursor', '_format', '_pretty']);

/** history-instance and history-type (FHIR R4 http.html#history): newest first, keyset-paged. */
export async function historyHandler(ctx: HandlerContext, req: FhirRequest, type: SupportedType, id?: string): Promise<FhirResponse> {
  for (const key of Object.keys(req.query)) {
    if (!HISTORY_PARAMS.has(key)) {
      throw new FhirError('UNKNOWN_SEARCH_PARAM', `Unsupported history parameter "${key}" (supported: _count, _since)`, [key]);
    }
  }
  if (id && !(await ctx.repo.read(type, id))) {
    throw new FhirError('NOT_FOUND', `${type}/${id} does not exist`);
  }
  if (id) {
    await assertReadable(ctx.principal, ctx.repo, type, id);
    await assertNotWithdrawn(ctx.repo, type, id, (v) => assertDeletionVisible(ctx, type, id, v));
    const current = await ctx.repo.read(type, id);
    if (current?.resource) {
      await assertDmpAccess(ctx.principal, ctx.repo, ctx.policy, type, current.resource, 'read');
    }
  }
  const count = historyCount(req.query._count?.[0], ctx);
  const sinceValue = req.query._since?.[0];
  const since = sinceValue !== undefined ? parseDateRange(sinceValue)?.lo : undefined;
  if (sinceValue !== undefined && !since) {
    throw new FhirError('INVALID_SEARCH_VALUE', `_since must be an instant (got "${sinceValue}")`, ['_since']);
  }
  const before = req.query._cursor?.[0] ? decodeHistoryCursor(req.query._cursor[0]) : undefined;
  const dmp = id ? undefined : (await dmpSearchFilter(ctx.principal, ctx.repo, ctx.policy, type, [])).filter;
  const filter = combineFilters(searchFilterFor(ctx.principal, type, id ? 'r' : 's'), dmp);
  const versions = await ctx.repo.history(type, { id, since, before, limit: count + 1, filter });
  // The search index describes current versions only: each past version of DMP data is decided on
  // its own content, and deletions are not shown to professionals or patients. Such pages may be
  // shorter than _count; the next link still follows the raw versions.
  const page = await visibleVersions(ctx, type, versions.slice(0, count));
  const path = id ? `${type}/${id}/_history` : `${type}/_history`;
  const params: [string, string][] = [['_count', String(count)], ...(sinceValue ? [['_since', sinceValue] as [string, string]] : [])];
  const link: BundleLink[] = [{ relation: 'self', url: pageUrl(ctx.settings.fhirBase, path, [...params, ...(req.query._cursor ? [['_cursor', req.query._cursor[0]] as [string, string]] : [])]) }];
  const last = page[page.length - 1];
  if (versions.length > count && last) {
    const cursor = Buffer.from(JSON.stringify([last.lastUpdated.toISOString(), last.id, last.versionId])).toString('base64url');
    link.push({ relation: 'next', url: pageUrl(ctx.settings.fhirBase, path, [...params, ['_cursor', cursor]]) });
  }
  return { status: 200, resource: historyBundle(ctx.settings.fhirBase, page, type, link) };
}

async function visibleVersions(ctx: HandlerContext, type: SupportedType, all: StoredVersion[]): Promise<StoredVersion[]> {
  // Withdrawn documents (and their contents) keep no retrievable version, for anyone.
  const withdrawn = await withdrawnIds(ctx.repo, type, all.map((v) => v.id));
  const versions = all.filter((v) => !withdrawn.has(v.id));
  if (!ctx.policy || !dmpRulesApply(ctx.principal)) {
    return versions;
  }
  const kept: StoredVersion[] = [];
  for (const v of versions) {
    if (v.resource && (await mayReadVersion(ctx.principal, ctx.repo, ctx.policy, type, v.resource))) {
      kept.push(v);
    }
  }
  return kept;
}

function historyCount(value: string | undefined, ctx: HandlerContext): number {
  if (value === undefined) {
    return ctx.settings.searchDefaultCount;
  }
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new FhirError('INVALID_SEARCH_VALUE', `_count must be a positive integer (got "${value}")`, ['_count']);
  }
  return Math.min(Number(value), ctx.settings.searchMaxCount);
}

function decodeHistoryCursor(value: string): { lastUpdated: string; id: string; versionId: number } {
  try {
    const [lastUpdated, id, versionId] = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as [string, string, number];
    if (typeof lastUpdated === 'string' && typeof id === 'string' && Number.isInteger(versionId)) {
      return { lastUpdated, id, versionId };
    }
  } catch {
    // reported below
  }
  throw new FhirError('INVALID_PAGE_CURSOR', 'Invalid _cursor: follow the Bundle paging links as given', ['_cursor']);
}
