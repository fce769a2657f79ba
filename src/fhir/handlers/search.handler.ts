import type { OperationOutcome } from '@medplum/fhirtypes';
import { runSearch } from '../../repo/search.js';
import { searchFilterFor } from '../../policy/search-filter.js';
import { searchsetBundle } from '../bundle.js';
import { outcomeOf } from '../outcomes.js';
import { parsePrefer } from '../prefer.js';
import { parseSearch } from '../search/request.js';
import type { SupportedType } from '../resource-types.js';
import type { FhirRequest, FhirResponse, HandlerContext } from '../types.js';

/** search-type, by GET or POST _search (FHIR R4 search.html): strict unless Prefer: handling=lenient. */
export async function searchHandler(ctx: HandlerContext, req: FhirRequest, type: SupportedType): Promise<FhirResponse> {
  const lenient = parsePrefer(req.headers.prefer).handling === 'lenient';
  const search = parseSearch(type, req.query, {
    lenient,
    defaultCount: ctx.settings.searchDefaultCount,
    maxCount: ctx.settings.searchMaxCount,
  });
  const page = await runSearch(ctx.repo.queryable, search.query, (t) => searchFilterFor(ctx.principal, t, t === type ? 's' : 'r'));
  const outcome: OperationOutcome | undefined =
    search.ignored.length > 0
      ? outcomeOf('SEARCH_PARAM_IGNORED', `Ignored unknown or unsupported search parameters: ${search.ignored.join(', ')}`, search.ignored, 'warning')
      : undefined;
  const touched = [...page.compartments].map(([ref, patientId]) => ({ ref, patientId }));
  return { status: 200, resource: searchsetBundle(ctx.settings.fhirBase, type, search, page, outcome), touched };
}
