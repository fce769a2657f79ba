/**
 * ITI-65 Provide Document Bundle (IHE MHD, PDSm; dmp-domain.md §6): a transaction Bundle that creates
 * a SubmissionSet `List`, its `DocumentReference`s and their `Binary` contents (or `attachment.data`).
 * Before anything is written, the whole submission is checked: every document carries the
 * comprehensive metadata, its class is derived from its type, its subject is a DMP (by reference or
 * by INS), the declared size and SHA-1 hash match the bytes, and the SubmissionSet lists every
 * document, for the same patient. One problem anywhere and nothing is stored (422, one issue each).
 * The checked entries come back rewritten: class set, subject resolved to `Patient/<id>`, each
 * Binary's `securityContext` pointing to its DocumentReference (so the DMP rules reach it).
 */
import type { Binary, DocumentReference, List, OperationOutcomeIssue, Patient, Reference, Resource } from '@medplum/fhirtypes';
import { isInsSystem, validateIns } from '../dmp/ins.js';
import { MHD_LIST_TYPES_SYSTEM, MHD_SOURCE_ID_EXTENSION_URL } from '../dmp/identifiers.js';
import { FhirError } from '../fhir/outcomes.js';
import { parseReference } from '../fhir/references.js';
import { patientsByIdentifier } from '../repo/patient-lookup.js';
import type { ResourceRepo } from '../repo/resource-repo.js';
import { attachmentIntegrityIssues, comprehensiveIssues, withDerivedClass } from './document-metadata.js';

/** One entry of a transaction, as the submission check sees it. */
export interface SubmissionEntry {
  readonly index: number;
  readonly fullUrl?: string;
  readonly method: string;
  readonly type?: string;
  readonly resource?: Resource;
}

const issue = (text: string, expression: string, code: OperationOutcomeIssue['code'] = 'business-rule'): OperationOutcomeIssue => ({
  severity: 'error',
  code,
  details: { text },
  expression: [expression],
});

const at = (e: SubmissionEntry): string => `Bundle.entry[${e.index}].resource`;

/** A List whose code is the MHD `submissionset` list type. */
export function isSubmissionSet(resource: Resource | undefined): resource is List {
  return resource?.resourceType === 'List' && (resource.code?.coding ?? []).some((c) => c.system === MHD_LIST_TYPES_SYSTEM && c.code === 'submissionset');
}

/** True when a transaction creates a SubmissionSet: it is an ITI-65 Provide Document Bundle. */
export function isProvideDocumentBundle(entries: readonly SubmissionEntry[]): boolean {
  return entries.some((e) => e.method === 'POST' && isSubmissionSet(e.resource));
}

/**
 * Checks an ITI-65 submission as a whole and returns the entries to write instead (by entry index);
 * throws MHD_SUBMISSION_INVALID (422) with every problem found.
 */
export async function prepareProvideDocumentBundle(repo: ResourceRepo, entries: readonly SubmissionEntry[], fhirBase: string): Promise<Map<number, Resource>> {
  const issues: OperationOutcomeIssue[] = [];
  const rewritten = new Map<number, Resource>();
  const byFullUrl = new Map(entries.filter((e) => e.fullUrl).map((e) => [e.fullUrl as string, e]));
  const sets = entries.filter((e) => e.method === 'POST' && isSubmissionSet(e.resource));
  if (sets.length > 1) {
    issues.push(issue(`An ITI-65 Provide Document Bundle holds one SubmissionSet, not ${sets.length}`, at(sets[1])));
  }
  const documents = entries.filter((e) => e.method === 'POST' && e.resource?.resourceType === 'DocumentReference');
  if (documents.length === 0) {
    issues.push(issue('An ITI-65 Provide Document Bundle holds at least one DocumentReference (POST)', 'Bundle.entry'));
  }
  const patients = new Set<string>();
  for (const entry of documents) {
    const where = at(entry);
    const derived = withDerivedClass(entry.resource as DocumentReference, where);
    issues.push(...derived.issues);
    let doc = derived.doc;
    const inline = (doc.content ?? []).some((c) => c.attachment?.data !== undefined);
    issues.push(...comprehensiveIssues(doc, where, { urlRequired: !inline }));
    const subject = await resolveSubject(repo, doc.subject, `${where}.subject`, byFullUrl);
    if ('issue' in subject) issues.push(subject.issue);
    else {
      doc = { ...doc, subject: subject.reference as Reference<Patient> };
      patients.add(subject.reference.reference as string);
    }
    for (const [i, content] of (doc.content ?? []).entries()) {
      const attachmentAt = `${where}.content[${i}].attachment`;
      const bytes = await contentBytes(repo, content.attachment, attachmentAt, byFullUrl, fhirBase, issues);
      if (bytes) issues.push(...attachmentIntegrityIssues(content.attachment, bytes, attachmentAt));
      const binaryEntry = content.attachment?.url ? byFullUrl.get(content.attachment.url) : undefined;
      if (binaryEntry?.resource?.resourceType === 'Binary' && entry.fullUrl && !(binaryEntry.resource as Binary).securityContext) {
        rewritten.set(binaryEntry.index, { ...(binaryEntry.resource as Binary), securityContext: { reference: entry.fullUrl } });
      }
    }
    rewritten.set(entry.index, doc);
  }
  if (patients.size > 1) {
    issues.push(issue(`The documents of one submission are about one patient, not ${patients.size} (${[...patients].join(', ')})`, 'Bundle.entry'));
  }
  for (const set of sets) {
    const checked = await checkSubmissionSet(repo, set, documents, byFullUrl, patients, issues);
    if (checked) rewritten.set(set.index, checked);
  }
  if (issues.length > 0) {
    throw FhirError.withIssues('MHD_SUBMISSION_INVALID', issues);
  }
  return rewritten;
}

/** The SubmissionSet: current, working, dated, with its source id, about the documents' patient, listing every document. */
async function checkSubmissionSet(
  repo: ResourceRepo,
  set: SubmissionEntry,
  documents: readonly SubmissionEntry[],
  byFullUrl: ReadonlyMap<string, SubmissionEntry>,
  patients: ReadonlySet<string>,
  issues: OperationOutcomeIssue[]
): Promise<List | undefined> {
  const list = set.resource as List;
  const where = at(set);
  if (list.status !== 'current') issues.push(issue('A SubmissionSet is current (status = current)', `${where}.status`));
  if (list.mode !== 'working') issues.push(issue('A SubmissionSet is a working list (mode = working)', `${where}.mode`));
  if (!list.date) issues.push(issue('A SubmissionSet needs its submission time (date)', `${where}.date`, 'required'));
  if (!(list.extension ?? []).some((e) => e.url === MHD_SOURCE_ID_EXTENSION_URL && e.valueIdentifier?.value)) {
    issues.push(issue(`A SubmissionSet needs the id of its source (extension ${MHD_SOURCE_ID_EXTENSION_URL}, valueIdentifier)`, `${where}.extension`, 'required'));
  }
  const listed = new Set((list.entry ?? []).map((e) => e.item?.reference).filter((r): r is string => r !== undefined));
  for (const doc of documents) {
    if (doc.fullUrl && !listed.has(doc.fullUrl)) {
      issues.push(issue(`The SubmissionSet must list every document it submits: ${doc.fullUrl} (Bundle.entry[${doc.index}]) is missing from List.entry`, `${where}.entry`));
    }
  }
  const subject = await resolveSubject(repo, list.subject, `${where}.subject`, byFullUrl);
  if ('issue' in subject) {
    issues.push(subject.issue);
    return undefined;
  }
  if (patients.size === 1 && !patients.has(subject.reference.reference as string)) {
    issues.push(issue(`The SubmissionSet is about ${subject.reference.reference}, its documents about ${[...patients][0]}`, `${where}.subject`));
  }
  return { ...list, subject: subject.reference as Reference<Patient> };
}

/**
 * The DMP a subject names: `Patient/<id>` of a live Patient, a conditional `Patient?identifier=<INS>`,
 * an identifier-only reference carrying the INS, or a Patient created by the same Bundle (urn:uuid).
 */
export async function resolveSubject(
  repo: ResourceRepo,
  subject: Reference | undefined,
  where: string,
  byFullUrl: ReadonlyMap<string, SubmissionEntry>
): Promise<{ reference: Reference } | { issue: OperationOutcomeIssue }> {
  if (!subject) return { issue: issue('The subject (the patient) is required', where, 'required') };
  const ref = subject.reference;
  if (ref?.startsWith('urn:uuid:')) {
    return byFullUrl.get(ref)?.resource?.resourceType === 'Patient' ? { reference: { reference: ref } } : { issue: issue(`${ref} is not a Patient of this Bundle`, where) };
  }
  if (ref?.startsWith('Patient?')) {
    const value = new URLSearchParams(ref.slice('Patient?'.length)).get('identifier') ?? '';
    const [system, ins] = value.split('|');
    return byIns(repo, system, ins, where);
  }
  if (ref) {
    const parsed = parseReference(ref);
    const stored = parsed?.type === 'Patient' ? await repo.read('Patient', parsed.id) : undefined;
    return stored?.resource && !stored.deleted ? { reference: { reference: `Patient/${parsed?.id}` } } : { issue: issue(`The subject ${ref} is not a DMP this server holds`, `${where}.reference`) };
  }
  return byIns(repo, subject.identifier?.system, subject.identifier?.value, `${where}.identifier`);
}

async function byIns(repo: ResourceRepo, system: string | undefined, value: string | undefined, where: string): Promise<{ reference: Reference } | { issue: OperationOutcomeIssue }> {
  if (!system || !isInsSystem(system) || !value) {
    return { issue: issue('The subject names the patient by reference or by INS (identifier with an INS system and value)', where, 'required') };
  }
  const valid = validateIns(value);
  if (!valid.ok) return { issue: issue(`Invalid INS (${system}): ${valid.message}`, where) };
  const [id] = await patientsByIdentifier(repo, `${system}|${value}`, 1);
  return id ? { reference: { reference: `Patient/${id}` } } : { issue: issue(`No DMP exists for INS ${system}|${value}: open it first`, where, 'not-found') };
}

/** The bytes of an attachment: inline data, a Binary of the Bundle, or a stored Binary of this server. */
async function contentBytes(
  repo: ResourceRepo,
  attachment: DocumentReference['content'][number]['attachment'] | undefined,
  where: string,
  byFullUrl: ReadonlyMap<string, SubmissionEntry>,
  fhirBase: string,
  issues: OperationOutcomeIssue[]
): Promise<Buffer | undefined> {
  if (!attachment) return undefined;
  if (attachment.data !== undefined) return Buffer.from(attachment.data, 'base64');
  const url = attachment.url;
  if (!url) return undefined;
  const inBundle = byFullUrl.get(url);
  if (inBundle) {
    if (inBundle.resource?.resourceType !== 'Binary') {
      issues.push(issue(`attachment.url ${url} must point to a Binary, not a ${String(inBundle.resource?.resourceType)}`, `${where}.url`));
      return undefined;
    }
    return Buffer.from((inBundle.resource as Binary).data ?? '', 'base64');
  }
  const local = url.startsWith(`${fhirBase}/`) ? url.slice(fhirBase.length + 1) : url;
  const parsed = parseReference(local);
  const stored = parsed?.type === 'Binary' ? await repo.read('Binary', parsed.id) : undefined;
  if (!stored?.resource || stored.deleted) {
    issues.push(issue(`attachment.url ${url} names no Binary of this Bundle or of this server`, `${where}.url`, 'not-found'));
    return undefined;
  }
  return Buffer.from((stored.resource as Binary).data ?? '', 'base64');
}
