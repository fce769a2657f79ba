import type { Filter } from '@medplum/core';
import type { AuditEvent, Binary, Consent, DocumentReference, Patient, Resource } from '@medplum/fhirtypes';
import { FhirError } from '../fhir/outcomes.js';
import { parseReference } from '../fhir/references.js';
import type { SupportedType } from '../fhir/resource-types.js';
import type { ResourceRepo } from '../repo/resource-repo.js';
import { and, or, SqlParams } from '../repo/sql.js';
import { patientsByIdentifier } from '../repo/patient-lookup.js';
import { decide, openingConsentDecision, readableDocumentConstraints, systemDecision, systemDocumentConstraints, type DocumentConstraints, type PatientFacts, type PolicyAction, type PolicyDecision, type PolicyOptions, type PolicyTarget } from './decide.js';
import { documentConstraintSql, namesHiddenDocumentSql } from './document-filter.js';
import { consentFactsFromDb, documentFactsFromDb, loadPatientFacts, patientFactsFrom } from './facts.js';
import type { HabilitationMatrix } from './habilitation-matrix.js';
import type { AuthenticatedPrincipal, Principal, SystemRole } from './principal.js';
import { ACCESS_REASON_SYSTEM, reasonText } from './reasons.js';
import { securityFilterFromSql, type SecurityFilter } from './search-filter.js';

/** The DMP rules' settings, as handlers receive them. */
export interface DmpPolicy {
  readonly matrix: HabilitationMatrix;
  readonly invisiblePatientDelayDays: number;
  /** Years a closed DMP stays archived and reopenable (DMP_RETENTION_YEARS). */
  readonly retentionYears: number;
}

/** Types holding DMP data: every access to them passes the DMP rules. */
const DMP_TYPES: ReadonlySet<SupportedType> = new Set(['Patient', 'DocumentReference', 'Binary', 'List', 'Consent', 'AuditEvent', 'RelatedPerson']);

/**
 * Whose accesses the DMP rules decide here: professionals, patients (and their legal
 * representatives) and system clients, except the host's `operator` client, which its SMART
 * scopes alone hold (see the README).
 */
export function dmpRulesApply(principal: Principal): boolean {
  return principal.kind === 'practitioner' || principal.kind === 'patient' || (principal.kind === 'system' && principal.role !== 'operator');
}

/** The record part a stored resource or a search of a DMP type is about (the Patient itself, its documents, or the rest). */
function recordTarget(type: SupportedType): PolicyTarget {
  if (type === 'Patient') return { kind: 'dmp', part: 'patient' };
  if (type === 'DocumentReference') return { kind: 'dmp', part: 'documents' };
  if (type === 'List') return { kind: 'dmp', part: 'lists' };
  return { kind: 'dmp' };
}

/**
 * A system client's rules do not depend on the record: what it may not search anywhere is refused
 * before any record is named (403 with the reason).
 */
function assertSystemMaySearch(principal: Principal, type: SupportedType): void {
  if (principal.kind !== 'system') return;
  const decision = systemDecision(principal.role, 'search', recordTarget(type));
  if (!decision.allow) throw refusal(decision, type);
}

function options(policy: DmpPolicy): PolicyOptions {
  return { now: new Date(), matrix: policy.matrix, invisiblePatientDelayDays: policy.invisiblePatientDelayDays };
}

/** A refusal: at the patient level a 403 saying why; at the document level the document looks absent. */
export function refusal(decision: Extract<PolicyDecision, { allow: false }>, what: string): FhirError {
  const text = reasonText(decision.reason);
  const err = decision.level === 'patient' ? new FhirError('FORBIDDEN', text) : new FhirError('NOT_FOUND', `${what} does not exist`);
  if (decision.level === 'patient') {
    // The reason code travels with the outcome (and so into the AuditEvent).
    err.outcome.issue[0].details?.coding?.push({ system: ACCESS_REASON_SYSTEM, code: decision.reason });
  }
  return err;
}

/**
 * The decision for one stored resource of a DMP type (read, update, delete...): resolves the
 * patient facts and the target, decides, and throws the refusal.
 */
export async function assertDmpAccess(principal: Principal, repo: ResourceRepo, policy: DmpPolicy | undefined, type: SupportedType, resource: Resource, action: PolicyAction): Promise<void> {
  if (!policy || !dmpRulesApply(principal) || !DMP_TYPES.has(type)) {
    return;
  }
  const what = `${type}/${resource.id ?? ''}`;
  if (type === 'Patient' && action === 'create') {
    // Opening a DMP: no record yet, the facts are those of the Patient about to be written.
    const opening = patientFactsFrom({ patient: resource as Patient, consents: [], relatedPersons: [], resolutions: new Map(), now: new Date() });
    const decision = decide(principal, 'create', recordTarget(type), opening, options(policy));
    if (!decision.allow) throw refusal(decision, what);
    return;
  }
  const patientId = await repo.compartmentOf(type, resource.id ?? '', resource);
  if (!patientId) {
    // DMP data outside any record (e.g. a Binary with no security context) is nobody's to see.
    throw new FhirError('NOT_FOUND', `${what} does not exist`);
  }
  const facts = await loadPatientFacts(repo, patientId, new Date());
  if (!facts) {
    throw new FhirError('NOT_FOUND', `${what} does not exist`);
  }
  const target = await targetOf(repo, type, resource, principal);
  const opts = options(policy);
  const decision = decide(principal, actionFor(type, action), target, facts, opts);
  if (!decision.allow) {
    throw refusal(decision, what);
  }
  if (tracesFollowDocuments(principal, type)) {
    await assertTraceNamesNoHiddenDocument(principal, repo, resource as AuditEvent, facts, opts);
  }
}

/**
 * A professional opening a DMP: the patient's consent — their authorisation of this professional —
 * must be recorded in the same transaction Bundle. Outside a Bundle the opening is refused; inside,
 * a check runs before the Bundle commits. Other principals: nothing to add.
 */
export function requireOpeningConsent(principal: Principal, beforeCommit: ((repo: ResourceRepo) => Promise<void>)[] | undefined, patientId: string | undefined): void {
  if (principal.kind !== 'practitioner') return;
  const what = `Patient/${patientId ?? ''}`;
  const missing: PolicyDecision = { allow: false, reason: 'opening-consent-missing', level: 'patient' };
  if (!beforeCommit || !patientId) throw refusal(missing, what);
  beforeCommit.push(async (repo) => {
    const facts = await loadPatientFacts(repo, patientId, new Date());
    const decision = facts ? openingConsentDecision(principal.professional, facts) : missing;
    if (!decision.allow) throw refusal(decision, what);
  });
}

/** True when the principal may read this (possibly past) version of DMP data. */
export async function mayReadVersion(principal: Principal, repo: ResourceRepo, policy: DmpPolicy, type: SupportedType, resource: Resource): Promise<boolean> {
  try {
    await assertDmpAccess(principal, repo, policy, type, resource, 'read');
    return true;
  } catch (err) {
    if (err instanceof FhirError) {
      return false;
    }
    throw err;
  }
}

function actionFor(type: SupportedType, action: PolicyAction): PolicyAction {
  if (type === 'AuditEvent' && (action === 'read' || action === 'search')) {
    return 'read-audit';
  }
  if (type === 'Consent' && (action === 'create' || action === 'update' || action === 'delete')) {
    return 'manage-consent';
  }
  return action;
}

async function targetOf(repo: ResourceRepo, type: SupportedType, resource: Resource, principal: Principal): Promise<PolicyTarget> {
  switch (type) {
    case 'DocumentReference':
      return { kind: 'document', document: await documentFactsFromDb(repo, resource as DocumentReference) };
    case 'Binary': {
      // A Binary is authorised through the DocumentReference it belongs to (its securityContext).
      const ref = parseReference((resource as Binary).securityContext?.reference ?? '');
      const doc = ref?.type === 'DocumentReference' ? (await repo.read('DocumentReference', ref.id))?.resource : undefined;
      if (!doc) {
        throw new FhirError('NOT_FOUND', `Binary/${resource.id ?? ''} does not exist`);
      }
      return { kind: 'document', document: await documentFactsFromDb(repo, doc as DocumentReference) };
    }
    case 'Consent':
      return { kind: 'consent', consent: await consentFactsFromDb(repo, resource as Consent) };
    case 'AuditEvent':
      // A professional reads only the traces of their own accesses.
      if (principal.kind === 'practitioner' && !agentIs(resource as AuditEvent, `Practitioner/${principal.professional.practitionerId}`)) {
        throw new FhirError('NOT_FOUND', `AuditEvent/${resource.id ?? ''} does not exist`);
      }
      return { kind: 'dmp' };
    default:
      return recordTarget(type);
  }
}

function agentIs(event: AuditEvent, ref: string): boolean {
  return (event.agent ?? []).some((a) => a.who?.reference === ref);
}

/**
 * The DMP rules of a search, as SQL (so paging and totals count only what the caller may see).
 * Professionals search DMP data one patient at a time (named by `patient`, `subject` or
 * `patient.identifier`, as IHE MHD requires); patients within their own record.
 */
export async function dmpSearchFilter(
  principal: Principal,
  repo: ResourceRepo,
  policy: DmpPolicy | undefined,
  type: SupportedType,
  filters: readonly Filter[],
  factsCache?: FactsCache
): Promise<{ filter?: SecurityFilter; patientIds: readonly string[] }> {
  if (!policy || !dmpRulesApply(principal) || !DMP_TYPES.has(type)) {
    return { patientIds: [] };
  }
  assertSystemMaySearch(principal, type);
  if (type === 'Patient') {
    // A professional finds a patient by their INS (or the record's id), as TD0.2 does: browsing
    // identities by name or birth date would show any patient's traits to any professional. With a
    // patient in context (a launch), other criteria search that one patient.
    if (principal.kind === 'practitioner' && !namesPatientsExactly(filters)) {
      const own = principal.token.patientId;
      if (!own) {
        throw new FhirError('BAD_REQUEST', 'A professional finds a patient by INS: search Patient?identifier=<INS system>|<INS> (or _id=<id>), the other criteria only narrowing that search', ['identifier']);
      }
      return { filter: securityFilterFromSql('Patient', (q, alias) => `${alias}.id = ${q.add(own)}`), patientIds: [own] };
    }
    // The Patient rows stay searchable (finding the patient); the DMP data a Patient search brings
    // along (_revinclude) comes only from the records it names, each under the rules (dmpFilterForPatients).
    return { patientIds: await patientSearchRecords(principal as AuthenticatedPrincipal, repo, filters) };
  }
  if (type === 'AuditEvent' && principal.kind === 'practitioner') {
    return { filter: ownTraces(principal.professional.practitionerId), patientIds: [] };
  }
  if (type === 'Binary') {
    return { filter: securityFilterFromSql(type, () => 'FALSE'), patientIds: [] };
  }
  const patientIds = await searchedPatients(principal as AuthenticatedPrincipal, repo, type, filters);
  if (principal.kind === 'system' && patientIds.length === 0) {
    return { filter: systemDocumentsFilter(principal.role), patientIds };
  }
  return { filter: await dmpFilterForPatients(principal, repo, policy, type, patientIds, patientIds.length === 1, factsCache), patientIds };
}

/**
 * The DMP rules of a conditional interaction's lookup (If-None-Exist): it finds only what the caller
 * could read. Records named by the criteria (else the token's) that the caller may not search, and
 * documents hidden from them, behave as absent. Patient rows stay findable, as in a search.
 */
export async function dmpLookupFilter(principal: Principal, repo: ResourceRepo, policy: DmpPolicy | undefined, type: SupportedType, filters: readonly Filter[]): Promise<SecurityFilter | undefined> {
  if (!policy || !dmpRulesApply(principal) || !DMP_TYPES.has(type)) {
    return undefined;
  }
  assertSystemMaySearch(principal, type);
  if (type === 'Patient') {
    return undefined;
  }
  const named = await namedPatients(repo, type, filters);
  const token = (principal as AuthenticatedPrincipal).token;
  const own = token.patientId ?? (principal.kind === 'patient' ? principal.patientId : undefined);
  if (principal.kind === 'system' && named.length === 0) {
    return systemDocumentsFilter(principal.role);
  }
  return dmpFilterForPatients(principal, repo, policy, type, named.length > 0 ? named : own ? [own] : []);
}

/** What a system client reads across records (its rules do not depend on the record): the insurer's REMB documents. */
function systemDocumentsFilter(role: SystemRole | undefined): SecurityFilter {
  return securityFilterFromSql('DocumentReference', (q, alias) => documentConstraintSql(q, alias, systemDocumentConstraints(role)));
}

/** Patient facts already loaded for one search (its main type and every included type share them). */
export type FactsCache = Map<string, Promise<PatientFacts | undefined>>;

function factsOf(repo: ResourceRepo, patientId: string, now: Date, cache: FactsCache | undefined): Promise<PatientFacts | undefined> {
  if (!cache) {
    return loadPatientFacts(repo, patientId, now);
  }
  let facts = cache.get(patientId);
  if (!facts) {
    facts = loadPatientFacts(repo, patientId, now);
    cache.set(patientId, facts);
  }
  return facts;
}

/**
 * The DMP rules for rows of `type` in these patients' records: each record the caller may search,
 * narrowed (for documents) by the document rules. `strict`: a refused record is a 403, not skipped.
 */
export async function dmpFilterForPatients(
  principal: Principal,
  repo: ResourceRepo,
  policy: DmpPolicy,
  type: SupportedType,
  patientIds: readonly string[],
  strict = false,
  factsCache?: FactsCache
): Promise<SecurityFilter> {
  if (type === 'AuditEvent' && principal.kind === 'practitioner') {
    return ownTraces(principal.professional.practitionerId);
  }
  if (type === 'Binary') {
    return securityFilterFromSql(type, () => 'FALSE');
  }
  const opts = options(policy);
  const parts: { patientId: string; constraints?: ReturnType<typeof readableDocumentConstraints> }[] = [];
  for (const patientId of patientIds) {
    const facts = await factsOf(repo, patientId, opts.now, factsCache);
    if (!facts) {
      continue;
    }
    const decision = decide(principal, type === 'AuditEvent' ? 'read-audit' : 'search', recordTarget(type), facts, opts);
    if (!decision.allow) {
      if (strict) {
        throw refusal(decision, `Patient/${patientId}`);
      }
      continue;
    }
    parts.push({ patientId, constraints: type === 'DocumentReference' || tracesFollowDocuments(principal, type) ? readableDocumentConstraints(principal, facts, opts) : undefined });
  }
  const rowRule = (q: SqlParams, alias: string, constraints: DocumentConstraints): string =>
    type === 'AuditEvent' ? `NOT (${namesHiddenDocumentSql(q, alias, constraints)})` : documentConstraintSql(q, alias, constraints);
  return securityFilterFromSql(type, (q: SqlParams, alias: string) =>
    or(parts.map((p) => and([`${alias}.patient_id = ${q.add(p.patientId)}`, p.constraints ? rowRule(q, alias, p.constraints) : 'TRUE'])))
  );
}

/**
 * Whether the traces of a record are filtered by the documents they name: for the patient and their
 * legal representatives, a trace naming a document hidden from them is hidden with it (professionals
 * read only the traces of their own accesses).
 */
function tracesFollowDocuments(principal: Principal, type: SupportedType): boolean {
  return type === 'AuditEvent' && principal.kind === 'patient';
}

/** A single trace read by the patient side: hidden (404) when it names a document hidden from the reader. */
async function assertTraceNamesNoHiddenDocument(principal: Principal, repo: ResourceRepo, event: AuditEvent, facts: PatientFacts, opts: PolicyOptions): Promise<void> {
  for (const entity of event.entity ?? []) {
    const ref = parseReference(entity.what?.reference ?? '');
    const doc = ref ? await namedDocument(repo, ref) : undefined;
    if (!doc) {
      continue;
    }
    const decision = decide(principal, 'read', { kind: 'document', document: await documentFactsFromDb(repo, doc) }, facts, opts);
    if (!decision.allow) {
      throw new FhirError('NOT_FOUND', `AuditEvent/${event.id ?? ''} does not exist`);
    }
  }
}

/** The live DocumentReference a trace entity names, directly or through its Binary. */
async function namedDocument(repo: ResourceRepo, ref: { type: string; id: string }): Promise<DocumentReference | undefined> {
  let documentId = ref.type === 'DocumentReference' ? ref.id : undefined;
  if (ref.type === 'Binary') {
    const binary = (await repo.read('Binary', ref.id))?.resource as Binary | undefined;
    const context = parseReference(binary?.securityContext?.reference ?? '');
    documentId = context?.type === 'DocumentReference' ? context.id : undefined;
  }
  const stored = documentId ? await repo.read('DocumentReference', documentId) : undefined;
  return stored && !stored.deleted ? (stored.resource as DocumentReference | undefined) : undefined;
}

function ownTraces(practitionerId: string): SecurityFilter {
  return securityFilterFromSql('AuditEvent', (q, alias) =>
    `EXISTS (SELECT 1 FROM sp_reference a WHERE a.res_type = 'AuditEvent' AND a.res_id = ${alias}.id AND a.code = 'agent' AND a.target_type = 'Practitioner' AND a.target_id = ${q.add(practitionerId)})`
  );
}

/** The patients a DMP search is about: the token's patient, or the ones its filters name (none for a system client's search across records). */
async function searchedPatients(principal: AuthenticatedPrincipal, repo: ResourceRepo, type: SupportedType, filters: readonly Filter[]): Promise<string[]> {
  const named = await namedPatients(repo, type, filters);
  if (named.length > 0) {
    return named;
  }
  const own = principal.token.patientId ?? (principal.kind === 'patient' ? principal.patientId : undefined);
  if (own) {
    return [own];
  }
  if (principal.kind === 'system') {
    return [];
  }
  throw new FhirError('BAD_REQUEST', `Searches of ${type} in the DMP name the patient: add patient=<id>, subject=Patient/<id> or patient.identifier=<INS system>|<INS>`, ['patient']);
}

/** True when a Patient search names its records exactly: `_id`, or `identifier` with system and value. */
function namesPatientsExactly(filters: readonly Filter[]): boolean {
  return filters.some(
    (f) => f.operator === 'eq' && (f.code === '_id' || (f.code === 'identifier' && f.value.split(',').every((v) => /^[^|]+\|.+$/.test(v))))
  );
}

/** The records a Patient search names: by `_id` or `identifier` (exact values), else the token's patient. */
async function patientSearchRecords(principal: AuthenticatedPrincipal, repo: ResourceRepo, filters: readonly Filter[]): Promise<string[]> {
  const ids = new Set<string>();
  for (const f of filters) {
    if (f.code === '_id' && f.operator === 'eq') {
      f.value.split(',').filter((v) => /^[A-Za-z0-9\-.]{1,64}$/.test(v)).forEach((v) => ids.add(v));
    } else if (f.code === 'identifier' && f.operator === 'eq') {
      for (const id of await patientsByIdentifier(repo, f.value)) ids.add(id);
    }
  }
  const own = principal.token.patientId ?? (principal.kind === 'patient' ? principal.patientId : undefined);
  if (ids.size === 0 && own) {
    ids.add(own);
  }
  return [...ids];
}

/** Patient ids named by `patient`, `subject` (Patient) or a `patient.identifier` chain. */
async function namedPatients(repo: ResourceRepo, type: SupportedType, filters: readonly Filter[]): Promise<string[]> {
  const ids = new Set<string>();
  for (const f of filters) {
    const [code] = f.code.split(':');
    if ((code === 'patient' || code === 'subject') && !f.code.includes('.')) {
      for (const value of f.value.split(',')) {
        const ref = parseReference(value);
        if (ref?.type === 'Patient') ids.add(ref.id);
        else if (!ref && /^[A-Za-z0-9\-.]{1,64}$/.test(value)) ids.add(value);
      }
    } else if (/^(patient|subject)(:Patient)?\.identifier$/.test(f.code)) {
      for (const id of await patientsByIdentifier(repo, f.value)) ids.add(id);
    }
  }
  return [...ids];
}


/** ANDs the DMP filter (when there is one) with the scope filter of the same type. */
export function combineFilters(scope: SecurityFilter, dmp: SecurityFilter | undefined): SecurityFilter {
  if (!dmp) {
    return scope;
  }
  return securityFilterFromSql(scope.resourceType, (q, alias) => and([scope.toSql(q, alias), dmp.toSql(q, alias)]));
}
