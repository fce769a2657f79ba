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

/** Inserts the index rows of several new resources (first versions) in one statement per table. */
export async function writeFreshIndexes(db: Queryable, resType: string, items: readonly { id: string; rows: IndexRows }[]): Promise<void> {
  const all = (pick: (r: IndexRows) => unknown[][], id: string, rows: IndexRows): unknown[][] => pick(rows).map((row) => [resType, id, ...row]);
  const token = items.flatMap(({ id, rows }) => all((r) => r.token.map((t) => [t.code, t.system, t.value]), id, rows));
  const string = items.flatMap(({ id, rows }) => all((r) => r.string.map((t) => [t.code, t.value, t.folded]), id, rows));
  const date = items.flatMap(({ id, rows }) => all((r) => r.date.map((t) => [t.code, t.lo.toISOString(), t.hi.toISOString()]), id, rows));
  const reference = items.flatMap(({ id, rows }) => all((r) => r.reference.map((t) => [t.code, t.targetType, t.targetId, t.reference]), id, rows));
  await insertMany(db, 'sp_token', ['res_type', 'res_id', 'code', 'system', 'value'], token);
  await insertMany(db, 'sp_string', ['res_type', 'res_id', 'code', 'value', 'value_folded'], string);
  await insertMany(db, 'sp_date', ['res_type', 'res_id', 'code', 'lo', 'hi'], date);
  await insertMany(db, 'sp_reference', ['res_type', 'res_id', 'code', 'target_type', 'target_id', 'reference'], reference);
}

async function insertMany(db: Queryable, table: string, columns: string[], rows: unknown[][]): Promise<void> {
  if (rows.length === 0) {
    return;
  }
  const q: SqlParams = new Params();
  const tuples = rows.map((row) => `(${q.list(row)})`).join(', ');
  await db.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples}`, q.values);
}
