/**
 * What happens to a DocumentReference the server stores (IHE MHD, PDSm; dmp-domain.md §6):
 * - ITI-105 Simplified Publish: a DocumentReference POSTed with its content inline
 *   (`attachment.data`) carries the comprehensive metadata; the content is split out into a Binary
 *   of this server (its `securityContext` the DocumentReference), `attachment.url` points to it and
 *   `size` / `hash` are set (checked when the client gave them);
 * - the subject may name the patient by INS (resolved to their DMP);
 * - replacement: `relatesTo` `replaces` makes the replaced document `superseded` in the same
 *   transaction; only a current document of the same patient can be replaced, by whom may update it.
 */
import { randomUUID } from 'node:crypto';
import type { Binary, DocumentReference, DocumentReferenceRelatesTo, OperationOutcomeIssue, Patient, Reference } from '@medplum/fhirtypes';
import { FhirError } from '../fhir/outcomes.js';
import { parseReference } from '../fhir/references.js';
import type { HandlerContext } from '../fhir/types.js';
import { assertDmpAccess } from '../policy/dmp-gate.js';
import type { ResourceRepo } from '../repo/resource-repo.js';
import { attachmentIntegrityIssues, comprehensiveIssues, sha1Base64 } from './document-metadata.js';
import { resolveSubject } from './submission.js';

/** True when some content of the document is inline (ITI-105 Simplified Publish). */
export function hasInlineContent(doc: DocumentReference): boolean {
  return (doc.content ?? []).some((c) => c.attachment?.data !== undefined);
}

/**
 * The document as it will be stored: subject resolved to the DMP (by INS or reference); for an
 * inline publication, the comprehensive metadata and the declared size / hash are checked (422).
 */
export async function checkedPublication(repo: ResourceRepo, doc: DocumentReference): Promise<DocumentReference> {
  const issues: OperationOutcomeIssue[] = [];
  let checked = doc;
  if (doc.subject && !doc.subject.reference?.startsWith('Patient/')) {
    const subject = await resolveSubject(repo, doc.subject, 'DocumentReference.subject', new Map());
    if ('issue' in subject) issues.push(subject.issue);
    else checked = { ...checked, subject: subject.reference as Reference<Patient> };
  }
  if (hasInlineContent(doc)) {
    issues.push(...comprehensiveIssues(doc, 'DocumentReference', { urlRequired: false }));
    (doc.content ?? []).forEach((c, i) => {
      if (c.attachment?.data !== undefined) issues.push(...attachmentIntegrityIssues(c.attachment, Buffer.from(c.attachment.data, 'base64'), `DocumentReference.content[${i}].attachment`));
    });
  }
  if (issues.length > 0) {
    throw FhirError.withIssues('MHD_SUBMISSION_INVALID', issues);
  }
  return checked;
}

/** The stored document and the Binaries to create for its inline contents (url, size, hash set). */
export function splitInlineContent(doc: DocumentReference, documentId: string, fhirBase: string): { doc: DocumentReference; binaries: { id: string; resource: Binary }[] } {
  const binaries: { id: string; resource: Binary }[] = [];
  const content = (doc.content ?? []).map((c) => {
    const data = c.attachment?.data;
    if (data === undefined) return c;
    const id = randomUUID();
    const bytes = Buffer.from(data, 'base64');
    binaries.push({
      id,
      resource: { resourceType: 'Binary', contentType: c.attachment.contentType ?? 'application/octet-stream', securityContext: { reference: `DocumentReference/${documentId}` }, data },
    });
    const { data: _inline, ...attachment } = c.attachment;
    return { ...c, attachment: { ...attachment, url: `${fhirBase}/Binary/${id}`, size: bytes.length, hash: sha1Base64(bytes) } };
  });
  return { doc: { ...doc, content }, binaries };
}

/** The documents a new one replaces (`relatesTo` with code `replaces`). */
function replacedTargets(doc: DocumentReference): DocumentReferenceRelatesTo[] {
  return (doc.relatesTo ?? []).filter((r) => r.code === 'replaces');
}

/** True when storing this document also changes others (replacement): it needs a transaction. */
export function replacesOthers(doc: DocumentReference): boolean {
  return replacedTargets(doc).length > 0;
}

/**
 * Replacement: each document the new one `replaces` becomes `superseded` (a new version), in the
 * caller's transaction. The replaced one must be a current document of the same patient that the
 * caller may update (for a professional: its author).
 */
export async function supersedeReplaced(ctx: HandlerContext, repo: ResourceRepo, doc: DocumentReference): Promise<void> {
  for (const [i, relation] of replacedTargets(doc).entries()) {
    const where = [`DocumentReference.relatesTo[${i}].target`];
    const ref = parseReference(relation.target?.reference ?? '');
    const stored = ref?.type === 'DocumentReference' ? await repo.read('DocumentReference', ref.id) : undefined;
    const target = stored && !stored.deleted ? (stored.resource as DocumentReference | undefined) : undefined;
    if (!ref || !target) {
      throw new FhirError('REPLACEMENT_INVALID', `The replaced document ${relation.target?.reference ?? '(no reference)'} does not exist`, where);
    }
    await assertDmpAccess(ctx.principal, repo, ctx.policy, 'DocumentReference', target, 'update');
    if (target.subject?.reference !== doc.subject?.reference) {
      throw new FhirError('REPLACEMENT_INVALID', `A document replaces a document of the same patient: ${relation.target?.reference} is about ${target.subject?.reference ?? 'no one'}`, where);
    }
    if (target.status !== 'current') {
      throw new FhirError('REPLACEMENT_INVALID', `Only a current document can be replaced: ${relation.target?.reference} is ${String(target.status)}`, where);
    }
    await repo.update('DocumentReference', ref.id, { ...target, status: 'superseded' });
  }
}
