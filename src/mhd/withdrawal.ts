/**
 * Deleting a DMP document (issue 5; dmp-domain.md §6.5): the DMP has no physical deletion and MHD
 * forbids `entered-in-error` in its comprehensive profile, so the server keeps a last version of the
 * DocumentReference with `status = entered-in-error` (metadata only), then deletes it, and deletes
 * the Binaries that hold its content. From then on the document and its content are retrievable by
 * no one: reads answer 410 (404 to whom it was hidden), and neither its past versions (vread,
 * history) nor its Binaries are served, to any caller. The AuditEvents stay.
 */
import type { DocumentReference } from '@medplum/fhirtypes';
import { FhirError } from '../fhir/outcomes.js';
import type { SupportedType } from '../fhir/resource-types.js';
import type { ResourceRepo } from '../repo/resource-repo.js';

/** Types whose deleted resources keep no retrievable version (documents and their contents). */
const WITHDRAWN_TYPES: ReadonlySet<SupportedType> = new Set(['DocumentReference', 'Binary']);

/** Withdraws a live document: entered-in-error version, deletion, deletion of its Binaries. */
export async function withdrawDocument(repo: ResourceRepo, id: string, current: DocumentReference): Promise<void> {
  await repo.transaction(async (tx) => {
    await tx.update('DocumentReference', id, { ...current, status: 'entered-in-error' });
    await tx.delete('DocumentReference', id);
    const { rows } = await tx.queryable.query<{ id: string }>(
      `SELECT id FROM res_binary WHERE deleted = false AND content->'securityContext'->>'reference' = $1`,
      [`DocumentReference/${id}`]
    );
    for (const row of rows) {
      await tx.delete('Binary', row.id);
    }
  });
}

/**
 * Refuses any version of a withdrawn document or content (410), whoever asks; `visibleTo` first
 * applies the DMP rules to the deletion itself (to whom the document was hidden, it stays absent).
 */
export async function assertNotWithdrawn(repo: ResourceRepo, type: SupportedType, id: string, visibleTo: (deletedVersion: number) => Promise<void>): Promise<void> {
  if (!WITHDRAWN_TYPES.has(type)) return;
  const current = await repo.read(type, id);
  if (current?.deleted) {
    await visibleTo(current.versionId);
    throw new FhirError('GONE', `${type}/${id} was deleted: no version of it is retrievable`);
  }
}

/** The ids among these whose resource is withdrawn (for the type history, which lists versions). */
export async function withdrawnIds(repo: ResourceRepo, type: SupportedType, ids: readonly string[]): Promise<Set<string>> {
  if (!WITHDRAWN_TYPES.has(type) || ids.length === 0) return new Set();
  const table = type === 'Binary' ? 'res_binary' : 'res_documentreference';
  const { rows } = await repo.queryable.query<{ id: string }>(`SELECT id FROM ${table} WHERE deleted = true AND id = ANY($1::text[])`, [[...new Set(ids)]]);
  return new Set(rows.map((r) => r.id));
}
