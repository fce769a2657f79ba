import type { Queryable } from './pool.js';
import type { IndexRows } from './indexer.js';
import type { SqlParams } from './sql.js';
import { SqlParams as Params } from './sql.js';

/**
 * Replaces the search index rows of one resource (deleting them when rows is undefined).
 * `fresh` (a first version) skips the deletes: there is nothing to replace.
 */
export async function writeIndex(db: Queryable, resType: string, resId: string, rows: IndexRows | undefined, fresh = false): Promise<void> {
  if (!fresh) {
    for (const table of ['sp_token', 'sp_string', 'sp_date', 'sp_reference']) {
      await db.query(`DELETE FROM ${table} WHERE res_id = $1 AND res_type = $2`, [resId, resType]);
    }
  }
  if (!rows) {
    return;
  }
  await insertMany(db, 'sp_token', ['res_type', 'res_id', 'code', 'system', 'value'], rows.token.map((r) => [resType, resId, r.code, r.system, r.value]));
  await insertMany(db, 'sp_string', ['res_type', 'res_id', 'code', 'value', 'value_folded'], rows.string.map((r) => [resType, resId, r.code, r.value, r.folded]));
  await insertMany(db, 'sp_date', ['res_type', 'res_id', 'code', 'lo', 'hi'], rows.date.map((r) => [resType, resId, r.code, r.lo.toISOString(), r.hi.toISOString()]));
  await insertMany(db, 'sp_reference', ['res_type', 'res_id', 'code', 'target_type', 'target_id', 'reference'], rows.reference.map((r) => [resType, resId, r.code, r.targetType, r.targetId, r.reference]));
}

async function insertMany(db: Queryable, table: string, columns: string[], rows: unknown[][]): Promise<void> {
  if (rows.length === 0) {
    return;
  }
  const q: SqlParams = new Params();
  const tuples = rows.map((row) => `(${q.list(row)})`).join(', ');
  await db.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples}`, q.values);
}
