import { foldString } from '../../fhir/search/fold.js';
import { escapeLike, or, type SqlParams } from '../sql.js';
import { missingFlag, splitOr, unsupportedModifier, type IndexScope } from './values.js';

/** FHIR string search: starts-with (accent- and case-insensitive) by default, `:exact`, `:contains`, `:missing`. */
export function stringPredicate(q: SqlParams, scope: IndexScope, operator: string, value: string): string {
  const rows = `FROM sp_string s WHERE s.res_type = ${q.add(scope.resourceType)} AND s.res_id = ${scope.idExpr} AND s.code = ${q.add(scope.code)}`;
  if (operator === 'missing') {
    return `${missingFlag(scope.code, value) ? 'NOT ' : ''}EXISTS (SELECT 1 ${rows})`;
  }
  const match = or(splitOr(value).map((v) => stringMatch(q, scope.code, operator, v)));
  return `EXISTS (SELECT 1 ${rows} AND (${match}))`;
}

function stringMatch(q: SqlParams, code: string, operator: string, value: string): string {
  switch (operator) {
    case 'eq':
      return `s.value_folded LIKE ${q.add(escapeLike(foldString(value)) + '%')} ESCAPE '\\'`;
    case 'contains':
      return `s.value_folded LIKE ${q.add('%' + escapeLike(foldString(value)) + '%')} ESCAPE '\\'`;
    case 'exact':
      return `s.value = ${q.add(value)}`;
    default:
      throw unsupportedModifier(code, operator);
  }
}
