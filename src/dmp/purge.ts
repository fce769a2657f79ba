/**
 * Erasing DMPs (issue 5): `$destroy` erases one record at once; `npm run purge` erases the closed
 * records whose retention has ended. Everything in the record's compartment goes (current rows,
 * every past version, search index rows), in one transaction; the AuditEvents stay: the trail of who
 * accessed the record outlives it (they hold references, not content).
 */
import type { Patient } from '@medplum/fhirtypes';
import { currentTable, historyTable, RESOURCE_TYPES } from '../fhir/resource-types.js';
import type { ResourceRepo } from '../repo/resource-repo.js';
import { closureOf, isCreationOpposition, retentionEnd } from './closure.js';

const INDEX_TABLES = ['sp_token', 'sp_string', 'sp_date', 'sp_reference'] as const;
/** What a purge erases: every stored type but the audit trail. */
const ERASED_TYPES = RESOURCE_TYPES.filter((t) => t !== 'AuditEvent');

/** Erases the record of `patientId` (but its AuditEvents); returns how many resources went. */
export async function purgeRecord(repo: ResourceRepo, patientId: string): Promise<number> {
  return repo.transaction(async (tx) => {
    let erased = 0;
    for (const type of ERASED_TYPES) {
      const cur = currentTable(type);
      const hist = historyTable(type);
      // Ids from both tables: a deleted resource's last version may no longer name the patient.
      const { rows } = await tx.queryable.query<{ id: string }>(
        `SELECT id FROM ${cur} WHERE patient_id = $1 UNION SELECT id FROM ${hist} WHERE patient_id = $1`,
        [patientId]
      );
      const ids = rows.map((r) => r.id);
      if (ids.length === 0) continue;
      for (const index of INDEX_TABLES) {
        await tx.queryable.query(`DELETE FROM ${index} WHERE res_type = $1 AND res_id = ANY($2::text[])`, [type, ids]);
      }
      await tx.queryable.query(`DELETE FROM ${hist} WHERE id = ANY($1::text[])`, [ids]);
      const deleted = await tx.queryable.query<{ id: string }>(`DELETE FROM ${cur} WHERE id = ANY($1::text[]) RETURNING id`, [ids]);
      erased += deleted.rows.length;
    }
    return erased;
  });
}

export interface PurgeReport {
  /** Closed records whose retention ended at `now`, erased. */
  readonly purged: readonly string[];
  /** Closed records still within their retention. */
  readonly kept: number;
}

/** Which closed DMPs a purge at `now` erases (retention of `years` after the closure date ended) and how many it keeps. */
export async function expiredRecords(repo: ResourceRepo, now: Date, years: number): Promise<{ due: string[]; kept: number }> {
  const { rows } = await repo.queryable.query<{ id: string; content: Patient | string }>(
    `SELECT id, content FROM res_patient WHERE deleted = false AND content->>'active' = 'false' ORDER BY id`
  );
  const due: string[] = [];
  let kept = 0;
  for (const row of rows) {
    const patient = (typeof row.content === 'string' ? JSON.parse(row.content) : row.content) as Patient;
    const closure = closureOf(patient);
    // An opposition to creation is not a DMP: it stays as long as the opposition does.
    if (!closure || isCreationOpposition(patient) || Number.isNaN(Date.parse(closure.date))) continue;
    if (retentionEnd(closure.date, years).getTime() <= now.getTime()) due.push(row.id);
    else kept++;
  }
  return { due, kept };
}

/** Erases every closed DMP whose retention (`years` after its closure date) has ended at `now`. */
export async function purgeExpired(repo: ResourceRepo, now: Date, years: number): Promise<PurgeReport> {
  const { due, kept } = await expiredRecords(repo, now, years);
  for (const id of due) {
    await purgeRecord(repo, id);
  }
  return { purged: due, kept };
}
