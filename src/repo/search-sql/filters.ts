import type { Filter } from '@medplum/core';
import { FhirError } from '../../fhir/outcomes.js';
import { isSupportedType, type SupportedType } from '../../fhir/resource-types.js';
import { paramDef } from '../../fhir/search/parameters.js';
import { or, type SqlParams } from '../sql.js';
import { lastUpdatedPredicate, datePredicate } from './date.js';
import { chainPredicate, referencePredicate } from './reference.js';
import { stringPredicate } from './string.js';
import { idPredicate, tokenPredicate } from './token.js';

/** Where the filtered resource's columns are: its id expression and (top level only) its table alias. */
export interface FilterTarget {
  readonly type: SupportedType;
  readonly idExpr: string;
  /** Alias of the resource table, for `_lastUpdated`; absent inside a chain. */
  readonly alias?: string;
}

/** Translates one parsed search filter into a parameterised SQL predicate. Throws FhirError 400 on bad input. */
export function filterPredicate(q: SqlParams, target: FilterTarget, filter: Filter): string {
  const dot = filter.code.indexOf('.');
  if (dot > 0) {
    return chainedFilter(q, target, filter, filter.code.slice(0, dot), filter.code.slice(dot + 1));
  }
  const { code, operator, value } = filter;
  if (code === '_id') {
    return idPredicate(q, target.idExpr, operator, value);
  }
  if (code === '_lastUpdated') {
    if (!target.alias) {
      throw new FhirError('UNSUPPORTED_SEARCH_FEATURE', '_lastUpdated cannot be used in a chain', [code]);
    }
    return lastUpdatedPredicate(q, `${target.alias}.last_updated`, operator, value);
  }
  const def = paramDef(target.type, code);
  if (!def) {
    throw new FhirError('UNKNOWN_SEARCH_PARAM', `Unknown search parameter "${code}" for ${target.type}`, [code]);
  }
  const scope = { resourceType: target.type, idExpr: target.idExpr, code };
  switch (def.type) {
    case 'token':
      return tokenPredicate(q, scope, operator, value);
    case 'string':
      return stringPredicate(q, scope, operator, value);
    case 'date':
      return datePredicate(q, scope, operator, value);
    default:
      // medplum reads `subject:Patient=...` as operator "Patient": a type modifier.
      if (isSupportedType(operator) || /^[A-Z]/.test(operator)) {
        return referencePredicate(q, scope, 'eq', value, operator);
      }
      return referencePredicate(q, scope, operator, value);
  }
}

function chainedFilter(q: SqlParams, target: FilterTarget, filter: Filter, head: string, rest: string): string {
  const [refCode, typeModifier] = head.split(':');
  const def = paramDef(target.type, refCode);
  if (!def || def.type !== 'reference') {
    throw new FhirError('UNKNOWN_SEARCH_PARAM', `"${refCode}" is not a reference parameter of ${target.type}, so it cannot be chained`, [filter.code]);
  }
  const childCode = rest.split('.')[0];
  const candidates = (typeModifier ? [typeModifier] : def.targets).filter(
    (t): t is SupportedType => isSupportedType(t) && (childCode === '_id' || paramDef(t, childCode) !== undefined)
  );
  if (candidates.length === 0) {
    throw new FhirError('UNKNOWN_SEARCH_PARAM', `Chained parameter "${filter.code}" is not supported: no target of "${refCode}" has a parameter "${childCode}"`, [filter.code]);
  }
  const scope = { resourceType: target.type, idExpr: target.idExpr, code: refCode };
  const child: Filter = { code: rest, operator: filter.operator, value: filter.value };
  return or(
    candidates.map((t) => chainPredicate(q, scope, t, (idExpr) => filterPredicate(q, { type: t, idExpr }, child)))
  );
}
