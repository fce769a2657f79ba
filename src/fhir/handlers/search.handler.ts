import type { OperationOutcome } from '@medplum/fhirtypes';
import { runSearch, type SearchQuery, type SecurityFilters } from '../../repo/search.js';
import { combineFilters, dmpFilterForPatients, dmpRulesApply, dmpSearchFilter, type FactsCache } from '../../policy/dmp-gate.js';
import { isSupportedType, RESOURCE_TYPES } from '../resource-types.js';
import { searchFilterFor, type SecurityFilter } from '../../policy/search-filter.js';
import { searchsetBundle } from '../bundle.js';
import { outcomeOf } from '../outcomes.js';
import { dmpStatusOutcome, isDmpStatusQuestion } from './dmp-status.js';
import { parsePrefer } from '../prefer.js';
import { parseSearch } from '../search/request.js';
import type { SupportedType } from '../resource-types.js';
import type { FhirRequest, FhirResponse, HandlerContext } from '../types.js';

/**
 * The filters of every type a search touches: the SMART scope filter, ANDed with the DMP rules
 * for DMP data (the searched records; included DMP resources only from those same records).
 */
async function securityFilters(ctx: HandlerContext, type: SupportedType, query: SearchQuery): Promise<SecurityFilters> {
  const factsCache: FactsCache = new Map();
  const main = await dmpSearchFilter(ctx.principal, ctx.repo, ctx.policy, type, query.filters, factsCache);
  const included = new Map<SupportedType, SecurityFilter>();
  const includeTypes = new Set<SupportedType>(
    [...query.include.map((i) => i.targetType), ...query.revInclude.map((i) => i.resourceType)].filter((t): t is SupportedType => !!t && isSupportedType(t))
  );
  if (query.include.some((i) => !i.targetType)) {
    RESOURCE_TYPES.forEach((t) => includeTypes.add(t));
  }
  if (ctx.policy && dmpRulesApply(ctx.principal)) {
    for (const t of includeTypes) {
      if (t !== type && t !== 'Patient') {
        included.set(t, await dmpFilterForPatients(ctx.principal, ctx.repo, ctx.policy, t, main.patientIds, false, factsCache));
      }
    }
  }
  return (t) => {
    const scope = searchFilterFor(ctx.principal, t, t === type ? 's' : 'r');
    return combineFilters(scope, t === type ? main.filter : included.get(t));
  };
}

/**
 * IHE MHD ITI-67: a DocumentReference search without `status` (or `_id`) finds current documents
 * only, as MHD clients expect (superseded and withdrawn ones are asked for explicitly); the
 * Bundle's self link shows the `status=current` it applied.
 */
function withDefaultStatus(type: SupportedType, query: Readonly<Record<string, string[]>>): Readonly<Record<string, string[]>> {
  if (type !== 'DocumentReference' || Object.keys(query).some((k) => k === '_id' || k.split(':')[0] === 'status')) {
    return query;
  }
  return { ...query, status: ['current'] };
}

/** search-type, by GET or POST _search (FHIR R4 search.html): strict unless Prefer: handling=lenient. */
export async function searchHandler(ctx: HandlerContext, req: FhirRequest, type: SupportedType): Promise<FhirResponse> {
  const lenient = parsePrefer(req.headers.prefer).handling === 'lenient';
  const search = parseSearch(type, withDefaultStatus(type, req.query), {
    lenient,
    defaultCount: ctx.settings.searchDefaultCount,
    maxCount: ctx.settings.searchMaxCount,
  });
  const filters = await securityFilters(ctx, type, search.query);
  const page = await runSearch(ctx.repo.queryable, search.query, filters);
  const ignored: OperationOutcome | undefined =
    search.ignored.length > 0
      ? outcomeOf('SEARCH_PARAM_IGNORED', `Ignored unknown or unsupported search parameters: ${search.ignored.join(', ')}`, search.ignored, 'warning')
      : undefined;
  // TD0.2: a Patient search by INS also says each DMP's state and the caller's rights on it.
  const status = type === 'Patient' && ctx.policy && isDmpStatusQuestion(search.query.filters) ? await dmpStatusOutcome(ctx.repo, ctx.principal, page.matches) : undefined;
  const outcome: OperationOutcome | undefined = ignored && status ? { ...status, issue: [...ignored.issue, ...status.issue] } : (ignored ?? status);
  const touched = [...page.compartments].map(([ref, patientId]) => ({ ref, patientId }));
  return { status: 200, resource: searchsetBundle(ctx.settings.fhirBase, type, search, page, outcome), touched };
}
