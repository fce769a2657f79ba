/**
 * Keeps the search index in step with the supported search parameters: each type's parameter set
 * has a fingerprint (codes and expressions) kept in `app_state`; at startup, a type whose set
 * changed since its rows were indexed (a parameter added in a release, e.g. PDSm's `period-start`)
 * gets the index rows of its current resources rebuilt, in batches, each batch in one transaction.
 * A fresh database has nothing to rebuild and just records the fingerprints.
 */
import { createHash } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { currentTable, RESOURCE_TYPES, type SupportedType } from '../fhir/resource-types.js';
import { paramDefs } from '../fhir/search/parameters.js';
import { indexResource } from './indexer.js';
import { writeIndex } from './index-writer.js';
import type { Database } from './pool.js';

const BATCH = 500;

/** The fingerprint of a type's supported parameters. */
export function parameterFingerprint(type: SupportedType): string {
  const defs = paramDefs(type).map((d) => `${d.code}=${d.type}:${d.expression}`).sort();
  return createHash('sha256').update(defs.join('\n')).digest('hex');
}

/** Rebuilds the index of every type whose parameters changed; returns the types rebuilt. */
export async function reindexChangedTypes(db: Database): Promise<SupportedType[]> {
  const rebuilt: SupportedType[] = [];
  for (const type of RESOURCE_TYPES) {
    const key = `search-index:${type}`;
    const fingerprint = parameterFingerprint(type);
    const { rows } = await db.query<{ value: string }>('SELECT value FROM app_state WHERE key = $1', [key]);
    if (rows[0]?.value === fingerprint) continue;
    if (rows.length > 0) {
      await rebuild(db, type);
      rebuilt.push(type);
    }
    await db.query('INSERT INTO app_state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2, updated_at = now()', [key, fingerprint]);
  }
  return rebuilt;
}

async function rebuild(db: Database, type: SupportedType): Promise<void> {
  let after = '';
  for (;;) {
    const { rows } = await db.query<{ id: string; content: Resource | string }>(
      `SELECT id, content FROM ${currentTable(type)} WHERE deleted = false AND id > $1 ORDER BY id LIMIT ${BATCH}`,
      [after]
    );
    if (rows.length === 0) return;
    await db.withTransaction(async (tx) => {
      for (const row of rows) {
        const resource = (typeof row.content === 'string' ? JSON.parse(row.content) : row.content) as Resource;
        await writeIndex(tx, type, row.id, indexResource(type, resource));
      }
    });
    after = rows[rows.length - 1].id;
  }
}
