import type { Filter } from '@medplum/core';
import { grantingScopes, type ClinicalScope, type Permission } from '../auth/scopes.js';
import type { SupportedType } from '../fhir/resource-types.js';
import { filterPredicate } from '../repo/search-sql/filters.js';
import { and, or, SqlParams } from '../repo/sql.js';
import { isAuthenticated, type Principal } from './principal.js';

declare const securityFilterBrand: unique symbol;

/**
 * The access rule of a search, as a SQL predicate over the resource table alias. The repository
 * cannot search without one, and only the policy module can make one (branded type).
 */
export interface SecurityFilter {
  readonly [securityFilterBrand]: true;
  readonly resourceType: SupportedType;
  /** Returns a SQL predicate on the row alias, adding its bind values to params. */
  toSql(params: SqlParams, alias: string): string;
  /** True when the filter lets every row through (so single reads need no extra query). */
  readonly unrestricted: boolean;
}

function makeFilter(resourceType: SupportedType, toSql: (params: SqlParams, alias: string) => string): SecurityFilter {
  const unrestricted = toSql(new SqlParamsProbe(), 'r') === 'TRUE';
  return { resourceType, toSql, unrestricted } as unknown as SecurityFilter;
}

/**
 * A filter from a SQL predicate builder, for the policy module's own filters (document-filter.ts).
 * Only code in policy/ may call it: a filter is a policy decision, never a handler's or the repository's.
 */
export function securityFilterFromSql(resourceType: SupportedType, toSql: (params: SqlParams, alias: string) => string): SecurityFilter {
  return makeFilter(resourceType, toSql);
}

/** Throw-away parameter collector, to look at a filter's SQL once. */
class SqlParamsProbe extends SqlParams {}

/** Types whose rows belong to one patient's record (their `patient_id` is set). */
export const PATIENT_COMPARTMENT_TYPES: ReadonlySet<SupportedType> = new Set(['Patient', 'DocumentReference', 'Binary', 'List', 'Consent', 'AuditEvent', 'RelatedPerson']);

/**
 * What a principal may see of a type, as SQL: the union of the token's scopes that grant the
 * permission, each confined to the token's patient when it is a `patient/` scope, and narrowed by
 * its granular constraints (`?category=...`). Deny by default: no scope, no rows.
 */
export function searchFilterFor(principal: Principal, resourceType: SupportedType, permission: Permission = 's'): SecurityFilter {
  if (principal.kind === 'internal') {
    return makeFilter(resourceType, () => 'TRUE');
  }
  if (!isAuthenticated(principal)) {
    return makeFilter(resourceType, () => 'FALSE');
  }
  const scopes = grantingScopes(principal.token.scopes, { resourceType, permission });
  const patientId = principal.token.patientId;
  // A scope that constrains nothing lets every row through: the others must not add bind values
  // that the OR then drops (an unused `$n` fails the query: "could not determine data type").
  if (scopes.some((scope) => scope.params.length === 0 && (scope.context !== 'patient' || !PATIENT_COMPARTMENT_TYPES.has(resourceType)))) {
    return makeFilter(resourceType, () => 'TRUE');
  }
  return makeFilter(resourceType, (q, alias) => or(scopes.map((scope) => scopePredicate(q, alias, resourceType, scope, patientId))));
}

function scopePredicate(q: SqlParams, alias: string, type: SupportedType, scope: ClinicalScope, patientId: string | undefined): string {
  const parts: string[] = [];
  if (scope.context === 'patient' && PATIENT_COMPARTMENT_TYPES.has(type)) {
    parts.push(patientId ? `${alias}.patient_id = ${q.add(patientId)}` : 'FALSE');
  }
  for (const [code, value] of scope.params) {
    const [name, modifier] = code.split(':');
    const filter = { code: name, operator: modifier ?? 'eq', value } as Filter;
    parts.push(filterPredicate(q, { type, idExpr: `${alias}.id`, alias }, filter));
  }
  return and(parts);
}
