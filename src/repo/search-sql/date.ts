import { FhirError } from '../../fhir/outcomes.js';
import { parseDateRange } from '../../fhir/search/date-range.js';
import { or, type SqlParams } from '../sql.js';
import { missingFlag, splitOr, unsupportedModifier, type IndexScope } from './values.js';

/** The SQL expressions of the interval [lo, hi) a row covers. */
export interface RangeExprs {
  readonly lo: string;
  readonly hi: string;
}

const PREFIXES = new Set(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb']);

/**
 * FHIR R4 date comparison of the row interval [lo, hi) with the search interval [qlo, qhi):
 * eq = row within search; ne = not eq; gt/ge/lt/le = row reaches after/before; sa/eb = wholly after/before.
 */
export function dateComparison(q: SqlParams, code: string, prefix: string, value: string, row: RangeExprs): string {
  if (!PREFIXES.has(prefix)) {
    throw unsupportedModifier(code, prefix);
  }
  const range = parseDateRange(value);
  if (!range) {
    throw new FhirError('INVALID_SEARCH_VALUE', `"${value}" is not a valid date for parameter "${code}" (expected e.g. 2024, 2024-05, 2024-05-31, 2024-05-31T10:00:00Z)`, [code]);
  }
  // Bind only the bounds a prefix uses: an unused bind value has no type and fails the query.
  const qlo = (): string => `${q.add(range.lo.toISOString())}::timestamptz`;
  const qhi = (): string => `${q.add(range.hi.toISOString())}::timestamptz`;
  switch (prefix) {
    case 'eq':
      return `${row.lo} >= ${qlo()} AND ${row.hi} <= ${qhi()}`;
    case 'ne':
      return `NOT (${row.lo} >= ${qlo()} AND ${row.hi} <= ${qhi()})`;
    case 'gt':
      return `${row.hi} > ${qhi()}`;
    case 'ge':
      return `${row.hi} > ${qlo()}`;
    case 'lt':
      return `${row.lo} < ${qlo()}`;
    case 'le':
      return `${row.lo} < ${qhi()}`;
    case 'sa':
      return `${row.lo} >= ${qhi()}`;
    default: // eb
      return `${row.hi} <= ${qlo()}`;
  }
}

/** Date search on a date parameter's index rows. */
export function datePredicate(q: SqlParams, scope: IndexScope, operator: string, value: string): string {
  const rows = `FROM sp_date d WHERE d.res_type = ${q.add(scope.resourceType)} AND d.res_id = ${scope.idExpr} AND d.code = ${q.add(scope.code)}`;
  if (operator === 'missing') {
    return `${missingFlag(scope.code, value) ? 'NOT ' : ''}EXISTS (SELECT 1 ${rows})`;
  }
  const match = or(splitOr(value).map((v) => dateComparison(q, scope.code, operator, v, { lo: 'd.lo', hi: 'd.hi' })));
  return `EXISTS (SELECT 1 ${rows} AND (${match}))`;
}

/** `_lastUpdated` search on the row's own timestamp (an instant: a 1 ms interval). */
export function lastUpdatedPredicate(q: SqlParams, column: string, operator: string, value: string): string {
  const row = { lo: column, hi: `(${column} + interval '1 millisecond')` };
  return or(splitOr(value).map((v) => dateComparison(q, '_lastUpdated', operator, v, row)));
}
