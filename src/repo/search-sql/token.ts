import { and, or, type SqlParams } from '../sql.js';
import { missingFlag, splitOr, unsupportedModifier, type IndexScope } from './values.js';

/** FHIR token search (`code`, `system|code`, `|code`, `system|`) with `:not` and `:missing`. */
export function tokenPredicate(q: SqlParams, scope: IndexScope, operator: string, value: string): string {
  const rows = `FROM sp_token t WHERE t.res_type = ${q.add(scope.resourceType)} AND t.res_id = ${scope.idExpr} AND t.code = ${q.add(scope.code)}`;
  if (operator === 'missing') {
    return `${missingFlag(scope.code, value) ? 'NOT ' : ''}EXISTS (SELECT 1 ${rows})`;
  }
  if (operator !== 'eq' && operator !== 'not') {
    throw unsupportedModifier(scope.code, operator);
  }
  const match = or(splitOr(value).map((v) => tokenMatch(q, v)));
  return `${operator === 'not' ? 'NOT ' : ''}EXISTS (SELECT 1 ${rows} AND (${match}))`;
}

function tokenMatch(q: SqlParams, value: string): string {
  const bar = value.indexOf('|');
  if (bar < 0) {
    return `t.value = ${q.add(value)}`;
  }
  const system = value.slice(0, bar);
  const code = value.slice(bar + 1);
  const parts: string[] = [];
  parts.push(system === '' ? 't.system IS NULL' : `t.system = ${q.add(system)}`);
  if (code !== '') {
    parts.push(`t.value = ${q.add(code)}`);
  }
  return and(parts);
}

/** `_id` search on the id column itself. */
export function idPredicate(q: SqlParams, idExpr: string, operator: string, value: string): string {
  if (operator !== 'eq' && operator !== 'not') {
    throw unsupportedModifier('_id', operator);
  }
  const list = `${idExpr} IN (${q.list(splitOr(value))})`;
  return operator === 'not' ? `NOT (${list})` : list;
}
