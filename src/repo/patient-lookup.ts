import type { Filter } from '@medplum/core';
import type { ResourceRepo } from './resource-repo.js';
import { filterPredicate } from './search-sql/filters.js';
import { SqlParams } from './sql.js';

/**
 * Ids of the live Patients matching an `identifier` token value (`system|value`, `value`, or a
 * comma-separated list of them), as the `identifier` search parameter matches; at most `limit`.
 * Used where the server itself resolves patients by INS (DMP rules, one DMP per INS).
 */
export async function patientsByIdentifier(repo: ResourceRepo, value: string, limit = 10): Promise<string[]> {
  const q = new SqlParams();
  const predicate = filterPredicate(q, { type: 'Patient', idExpr: 'r.id', alias: 'r' }, { code: 'identifier', operator: 'eq', value } as Filter);
  const { rows } = await repo.queryable.query<{ id: string }>(`SELECT r.id FROM res_patient r WHERE r.deleted = false AND ${predicate} ORDER BY r.id LIMIT ${Number(limit)}`, q.values);
  return rows.map((r) => r.id);
}
