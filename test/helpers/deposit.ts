/**
 * Time passing for a stored document: its first version (the deposit, where the INVISIBLE_PATIENT
 * delay starts) is moved back to `when`, in the current table if it is still current and in the history.
 */
import { currentTable, historyTable } from '../../src/fhir/resource-types.js';
import type { Database } from '../../src/repo/pool.js';

export async function backdateDeposit(db: Database, documentId: string, when: string): Promise<void> {
  for (const table of [currentTable('DocumentReference'), historyTable('DocumentReference')]) {
    await db.query(`UPDATE ${table} SET last_updated = $2 WHERE id = $1 AND version_id = 1`, [documentId, when]);
  }
}
