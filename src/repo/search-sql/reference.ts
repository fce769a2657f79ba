import { parseReference, isValidId } from '../../fhir/references.js';
import { and, or, type SqlParams } from '../sql.js';
import { missingFlag, splitOr, unsupportedModifier, type IndexScope } from './values.js';

/**
 * FHIR reference search: `id`, `Type/id` or an absolute URL; a `:Type` modifier restricts the
 * target type; `:missing`. A value that is no literal reference matches the stored reference text.
 */
export function referencePredicate(
  q: SqlParams,
  scope: IndexScope,
  operator: string,
  value: string,
  typeModifier?: string
): string {
  const rows = `FROM sp_reference x WHERE x.res_type = ${q.add(scope.resourceType)} AND x.res_id = ${scope.idExpr} AND x.code = ${q.add(scope.code)}`;
  if (operator === 'missing') {
    return `${missingFlag(scope.code, value) ? 'NOT ' : ''}EXISTS (SELECT 1 ${rows})`;
  }
  if (operator !== 'eq') {
    throw unsupportedModifier(scope.code, operator);
  }
  const match = or(splitOr(value).map((v) => referenceMatch(q, v, typeModifier)));
  return `EXISTS (SELECT 1 ${rows} AND (${match}))`;
}

function referenceMatch(q: SqlParams, value: string, typeModifier?: string): string {
  const ref = parseReference(value);
  if (ref) {
    if (typeModifier && ref.type !== typeModifier) {
      return 'FALSE';
    }
    return and([`x.target_type = ${q.add(ref.type)}`, `x.target_id = ${q.add(ref.id)}`]);
  }
  if (isValidId(value)) {
    const parts = [`x.target_id = ${q.add(value)}`];
    if (typeModifier) {
      parts.push(`x.target_type = ${q.add(typeModifier)}`);
    }
    return and(parts);
  }
  return `x.reference = ${q.add(value)}`;
}

/** Chained search: resources whose reference parameter points at a target matching `targetPredicate`. */
export function chainPredicate(q: SqlParams, scope: IndexScope, targetType: string, targetPredicate: (idExpr: string) => string): string {
  const rows = `FROM sp_reference x WHERE x.res_type = ${q.add(scope.resourceType)} AND x.res_id = ${scope.idExpr} AND x.code = ${q.add(scope.code)} AND x.target_type = ${q.add(targetType)}`;
  return `EXISTS (SELECT 1 ${rows} AND (${targetPredicate('x.target_id')}))`;
}
