/**
 * DocumentReference metadata as the DMP's MHD profile (PDSm comprehensive) requires it
 * (dmp-domain.md §2, §6.2). Pure functions returning OperationOutcome issues, each pointing at the
 * element (`at` is the FHIRPath prefix of the DocumentReference, e.g. `Bundle.entry[1].resource`):
 * - the class (category) is derived from the type through src/dmp/type-class.ts, never trusted;
 * - a comprehensive submission (ITI-65, ITI-105) carries every required element;
 * - an attachment's size and SHA-1 hash match its bytes.
 */
import { createHash } from 'node:crypto';
import type { Attachment, CodeableConcept, DocumentReference, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { DOC_CLASS_SYSTEM, DOC_TYPE_COMPLEMENTARY_SYSTEM, LOINC_SYSTEM, VISIBILITY_SYSTEM } from '../dmp/identifiers.js';
import { classForType, DOCUMENT_CLASSES } from '../dmp/type-class.js';

const issue = (text: string, expression: string, code: OperationOutcomeIssue['code'] = 'business-rule'): OperationOutcomeIssue => ({
  severity: 'error',
  code,
  details: { text },
  expression: [expression],
});

/** The DMP type coding of a document (LOINC or TRE_A05), if it has one. */
export function dmpTypeCoding(doc: DocumentReference): { system: string; code: string } | undefined {
  const coding = doc.type?.coding?.find((c) => (c.system === LOINC_SYSTEM || c.system === DOC_TYPE_COMPLEMENTARY_SYSTEM) && c.code && classForType(c.system, c.code));
  return coding ? { system: coding.system as string, code: coding.code as string } : undefined;
}

/**
 * The document with its category set from its type (TRE_A03 class), or the issues when the client's
 * category says another class. A document whose type is not a DMP type is returned unchanged.
 */
export function withDerivedClass(doc: DocumentReference, at = 'DocumentReference'): { doc: DocumentReference; issues: OperationOutcomeIssue[] } {
  const type = dmpTypeCoding(doc);
  const classCode = type ? classForType(type.system, type.code) : undefined;
  if (!type || !classCode) {
    return { doc, issues: [] };
  }
  const claimed = (doc.category ?? []).flatMap((c) => c.coding ?? []).filter((c) => c.system === DOC_CLASS_SYSTEM && c.code !== undefined);
  const wrong = claimed.find((c) => c.code !== classCode);
  if (wrong) {
    return {
      doc,
      issues: [
        issue(
          `The class (category) ${wrong.code} does not match the type ${type.code}: the DMP derives the class from the type, here ${classCode} (${DOCUMENT_CLASSES[classCode]}); send ${classCode} or no class`,
          `${at}.category`
        ),
      ],
    };
  }
  const others = (doc.category ?? []).filter((c) => !(c.coding ?? []).some((k) => k.system === DOC_CLASS_SYSTEM));
  const derived: CodeableConcept = { coding: [{ system: DOC_CLASS_SYSTEM, code: classCode, display: DOCUMENT_CLASSES[classCode] }] };
  return { doc: { ...doc, category: [derived, ...others] }, issues: [] };
}

/** SHA-1 of the bytes, base64 (XDS hash as MHD carries it in attachment.hash). */
export function sha1Base64(bytes: Buffer): string {
  return createHash('sha1').update(bytes).digest('base64');
}

/** The attachment's declared size and hash against its bytes (a missing value is not checked here). */
export function attachmentIntegrityIssues(attachment: Attachment, bytes: Buffer, at: string): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  if (attachment.size !== undefined && attachment.size !== bytes.length) {
    issues.push(issue(`attachment.size is ${attachment.size} but the content is ${bytes.length} bytes`, `${at}.size`));
  }
  if (attachment.hash !== undefined && attachment.hash !== sha1Base64(bytes)) {
    issues.push(issue(`attachment.hash does not match the content: the SHA-1 of the bytes is ${sha1Base64(bytes)} (base64)`, `${at}.hash`));
  }
  return issues;
}

/**
 * What a comprehensive DMP submission must carry on each DocumentReference (PDSm comprehensive
 * DocumentReference): identifiers, status, a DMP type, subject, author, custodian, date, a
 * security label, and per content: content type, format, language, title, creation, size and hash
 * (checked against the bytes elsewhere); context period start, facility type, practice setting.
 * `urlRequired`: ITI-65 points to the content (attachment.url), ITI-105 carries it (attachment.data).
 */
export function comprehensiveIssues(doc: DocumentReference, at: string, opts: { urlRequired: boolean }): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const missing = (what: string, path: string): void => {
    issues.push(issue(`A DMP document needs ${what}`, `${at}.${path}`, 'required'));
  };
  if (!doc.masterIdentifier?.value) missing('its unique id (masterIdentifier, the uniqueId of the document)', 'masterIdentifier');
  if (doc.status !== 'current') issues.push(issue(`A submitted document is current (status = current), not ${String(doc.status)}`, `${at}.status`));
  if (!doc.type) missing('a type', 'type');
  else if (!dmpTypeCoding(doc)) issues.push(issue(`The type must be a DMP document type (LOINC or TRE_A05 of JDV_J66), not ${(doc.type.coding ?? []).map((c) => `${c.system ?? ''}|${c.code ?? ''}`).join(', ')}`, `${at}.type`, 'code-invalid'));
  if (!doc.subject) missing('its subject (the patient, by reference or by INS)', 'subject');
  if (!doc.author || doc.author.length === 0) missing('an author', 'author');
  if (!doc.custodian) missing('a custodian (the organisation keeping the document)', 'custodian');
  if (!doc.date) missing('a date (when the metadata was made)', 'date');
  if (!doc.securityLabel || doc.securityLabel.length === 0) missing('a security label (confidentiality N, R or V, and any TRE_A07 visibility flags)', 'securityLabel');
  else if (!doc.securityLabel.some((l) => (l.coding ?? []).some((c) => c.system !== VISIBILITY_SYSTEM))) missing('a confidentiality code (N, R or V) besides the visibility flags', 'securityLabel');
  if (!doc.content || doc.content.length === 0) missing('a content', 'content');
  (doc.content ?? []).forEach((content, i) => {
    const where = `content[${i}]`;
    const a = content.attachment ?? {};
    if (!a.contentType) missing('the MIME type of its content', `${where}.attachment.contentType`);
    if (!content.format) missing('a format code (JDV_J60)', `${where}.format`);
    if (!a.language) missing('the language of its content (fr-FR)', `${where}.attachment.language`);
    if (!a.title) missing('a title', `${where}.attachment.title`);
    if (!a.creation) missing('the creation date of its content', `${where}.attachment.creation`);
    if (opts.urlRequired && !a.url) missing('the location of its content (attachment.url, the Binary of the submission)', `${where}.attachment.url`);
    if (opts.urlRequired && a.size === undefined) missing('the size of its content', `${where}.attachment.size`);
    if (opts.urlRequired && !a.hash) missing('the SHA-1 hash of its content (base64)', `${where}.attachment.hash`);
  });
  if (!doc.context?.period?.start) missing('the start of the act it documents (context.period.start)', 'context.period.start');
  if (!doc.context?.facilityType) missing('a facility type (context.facilityType)', 'context.facilityType');
  if (!doc.context?.practiceSetting) missing('a practice setting (context.practiceSetting)', 'context.practiceSetting');
  return issues;
}
