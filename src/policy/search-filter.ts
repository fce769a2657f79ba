import type { SqlParams } from '../repo/sql.js';
import type { SupportedType } from '../fhir/resource-types.js';
import type { Principal } from './principal.js';

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
}

function makeFilter(resourceType: SupportedType, toSql: SecurityFilter['toSql']): SecurityFilter {
  return { resourceType, toSql } as SecurityFilter;
}

/**
 * The security filter for a principal searching a type. Until the SMART layer and DMP rules land
 * (issues 3 and 4) every caller sees every live row; this is the one place they will narrow it.
 */
export function searchFilterFor(_principal: Principal, resourceType: SupportedType): SecurityFilter {
  return makeFilter(resourceType, () => 'TRUE');
}
