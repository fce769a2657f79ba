/**
 * THE decision point of the DMP access rules (issue 4; dmp-domain.md §3.5, §4): who may do what on a
 * patient's DMP. Pure: the caller resolves the principal (token), the patient facts (Consents, Patient)
 * and the document facts (DocumentReference) first. Anything no rule allows is denied.
 *
 * Modelling choices:
 * - Reading needs a route: médecin traitant, extended rights (both imply the authorisation), an
 *   authorisation of the professional or their structure, else bris_de_glace / centre_15. An author
 *   reads their own documents through any route whatever the matrix and masking; without a route
 *   they may still update, delete or re-mask them (rule 7), not read them.
 * - A legal representative is a `patient` principal acting on another Patient's DMP, listed in
 *   `PatientFacts.legalRepresentativeIds`, and only while `isMinor`.
 * - System clients act by their registered role. The insurer feeds REMB, opens a DMP (create on the
 *   record), reads or searches the record itself (the Patient), reads back its REMB documents (so
 *   its feed can be idempotent) and replaces them with the next history (an update: superseded);
 *   other documents look absent to it, and it never reads lists,
 *   consents or traces. A system client without a role gets nothing. (The host's
 *   `operator` client is not decided here: dmp-gate leaves it to its scopes.)
 * - A professional may record (manage-consent) only a TREAT permit for themselves or their structure,
 *   given in the patient's presence; blocks, oppositions and extended rights belong to the patient.
 */
import { DOC_TYPE_COMPLEMENTARY_SYSTEM, VISIBILITY } from '../dmp/identifiers.js';
import { HabilitationMatrix, isHealthProfession, type TypeCoding } from './habilitation-matrix.js';
import type { AccessMode, Principal, ProfessionalIdentity, SystemRole } from './principal.js';
import { denialLevel, type AllowReason, type DenialLevel, type DenyReason } from './reasons.js';

export type PolicyAction =
  | 'read'
  | 'search'
  | 'create'
  | 'update'
  | 'delete'
  | 'change-visibility'
  | 'manage-consent'
  | 'read-audit'
  | 'close'
  | 'reopen'
  | 'destroy';

/** What the caller knows about the patient's DMP, from the Patient and its active Consents, for `now`. */
export interface PatientFacts {
  readonly patientId: string;
  /** The DMP is closed (Patient.active = false + closure). */
  readonly closed: boolean;
  /** Permits, purpose TREAT, whose period covers now: actors (Practitioner ids, structure ids). */
  readonly authorised: { readonly practitionerIds: readonly string[]; readonly organizationIds: readonly string[] };
  /** Denies naming a professional or structure (blocks): evaluated before anything else. */
  readonly blocked: { readonly practitionerIds: readonly string[]; readonly organizationIds: readonly string[] };
  /** Denies with purpose ETREAT, per access mode. */
  readonly emergencyOpposition: { readonly brisDeGlace: boolean; readonly centre15: boolean };
  /** Practitioner ids of Patient.generalPractitioner (the médecin traitant DMP). */
  readonly medecinTraitantIds: readonly string[];
  /** Practitioner ids holding a permit with provision.securityLabel (same rights as the médecin traitant). */
  readonly extendedRightsIds: readonly string[];
  /**
   * Who acts as the minor's legal representative (RelatedPerson linked to the Patient): each entry is
   * the representative's own Patient id (a patient principal's `patientId`) or their fhirUser
   * reference (`RelatedPerson/<id>`).
   */
  readonly legalRepresentativeIds?: readonly string[];
  readonly isMinor: boolean;
}

/** What the caller knows about one DocumentReference. */
export interface DocumentFacts {
  readonly typeCode?: string;
  /** System of typeCode; when given it must be the matrix's system for that code. */
  readonly typeSystem?: string;
  readonly classCode?: string;
  /** TRE_A07 codes among securityLabel (MASQUE_PS, INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX). */
  readonly labels: readonly string[];
  /** Practitioner ids among DocumentReference.author. */
  readonly authorPractitionerIds: readonly string[];
  /** Deposited by the patient (or their representative). */
  readonly depositedByPatient: boolean;
  /**
   * When the server first stored the document (ISO 8601): the INVISIBLE_PATIENT delay counts from
   * it, not from the client's `DocumentReference.date` (an old report deposited today stays hidden
   * for the whole delay; a future date cannot hold it back longer). Unknown (not stored yet): hidden.
   */
  readonly deposited?: string;
}

/** A Consent a principal wants to create, change or delete (for an update: check the old and the new). */
export interface ConsentFacts {
  readonly provisionType: 'permit' | 'deny';
  readonly actorPractitionerIds: readonly string[];
  readonly actorOrganizationIds: readonly string[];
  /** provision.purpose codes (v3-ActReason: TREAT, ETREAT). */
  readonly purposes: readonly string[];
  /** provision.securityLabel codes (extended rights). */
  readonly securityLabels: readonly string[];
}

/**
 * What the action applies to: the record (`part`: the Patient itself, its documents as a search's
 * patient gate, its lists (MHD SubmissionSets), else the record's other data: representatives), a
 * document, a Consent.
 */
export type PolicyTarget =
  | { readonly kind: 'dmp'; readonly part?: 'patient' | 'documents' | 'lists' }
  | { readonly kind: 'document'; readonly document: DocumentFacts }
  | { readonly kind: 'consent'; readonly consent: ConsentFacts };

export interface PolicyOptions {
  readonly now: Date;
  /** Days after which an INVISIBLE_PATIENT document becomes visible to the patient (R.1111-53: one month). */
  readonly invisiblePatientDelayDays?: number;
  readonly matrix: HabilitationMatrix;
}

export const DEFAULT_INVISIBLE_PATIENT_DELAY_DAYS = 30;

export type PolicyDecision =
  | { readonly allow: true; readonly reason: AllowReason }
  | { readonly allow: false; readonly reason: DenyReason; readonly level: DenialLevel };

const DAY_MS = 86_400_000;
const DOCUMENTS_GATE: PolicyTarget = { kind: 'dmp', part: 'documents' };

const allow = (reason: AllowReason): PolicyDecision => ({ allow: true, reason });
const deny = (reason: DenyReason): PolicyDecision => ({ allow: false, reason, level: denialLevel(reason) });

/** The decision for (principal, action, target) on the DMP described by `facts`. Default: deny. */
export function decide(principal: Principal, action: PolicyAction, target: PolicyTarget, facts: PatientFacts, options: PolicyOptions): PolicyDecision {
  switch (principal.kind) {
    case 'internal':
      return allow('internal');
    case 'practitioner':
      return forProfessional(principal.professional, principal.token.accessMode, action, target, facts, options);
    case 'patient':
      return forPatientUser(patientRole(principal, facts), action, target, facts, options);
    case 'system':
      return forSystem(principal.role, action, target, facts);
    default:
      return deny('default-deny');
  }
}

// ---------------------------------------------------------------------------------------------
// Professionals (rules 1-7, 9)
// ---------------------------------------------------------------------------------------------

function forProfessional(pro: ProfessionalIdentity, mode: AccessMode, action: PolicyAction, target: PolicyTarget, facts: PatientFacts, options: PolicyOptions): PolicyDecision {
  if (names(facts.blocked, pro)) return deny('blocked'); // rule 2: before every permit and every mode
  if (facts.closed) return deny('dmp-closed'); // rule 9
  switch (action) {
    case 'read':
    case 'search':
      return professionalRead(pro, mode, target, facts, options);
    case 'create': // rule 1: feeding needs no reading authorisation
      // Opening a DMP with the patient present: the handler requires the patient's authorisation of
      // this professional (a Consent) in the same transaction, which is the patient's consent.
      if (target.kind === 'dmp' && target.part === 'patient') return allow('opening-with-consent');
      // A SubmissionSet (ITI-65) goes with the documents it submits: feeding too.
      if (target.kind === 'dmp' && target.part === 'lists') return options.matrix.knowsProfession(pro.profession) ? allow('feeding') : deny('unknown-profession');
      if (target.kind !== 'document') return deny('default-deny');
      if (!options.matrix.knowsProfession(pro.profession)) return deny('unknown-profession');
      return isReimbursement(target.document) || isPatientDocumentType(target.document) ? deny('reserved-document-type') : allow('feeding');
    case 'update':
      if (target.kind === 'dmp') {
        // Patient resource (e.g. the doctor declaring themselves médecin traitant with the patient): normal rights only
        return professionalRead(pro, 'normal', target, facts, options);
      }
      return target.kind === 'document' ? authorOnly(pro, mode, target, facts, options) : deny('default-deny');
    case 'delete':
    case 'change-visibility': // rule 7
      return target.kind === 'document' ? authorOnly(pro, mode, target, facts, options) : deny('default-deny');
    case 'manage-consent':
      return target.kind === 'consent' ? recordAuthorisation(pro, target.consent) : deny('reserved-to-patient');
    case 'read-audit':
      return allow('own-traces'); // the caller confines the AuditEvents to those naming this professional
    case 'close': // on the patient's request, by a professional the patient authorised (not in an emergency mode)
      return target.kind === 'dmp' ? professionalRead(pro, 'normal', target, facts, options) : deny('default-deny');
    case 'reopen':
    case 'destroy':
      return deny('reserved-to-patient');
    default:
      return deny('default-deny');
  }
}

/**
 * A professional opened this DMP (create, allowed as `opening-with-consent`): by the end of the
 * transaction the patient must have authorised them (normal route: authorisation, médecin traitant,
 * extended rights), which is the patient's consent to the opening. No emergency mode stands in for it.
 */
export function openingConsentDecision(pro: ProfessionalIdentity, facts: PatientFacts): PolicyDecision {
  const route = readingRoute(pro, 'normal', facts);
  return route.allow ? allow('opening-with-consent') : deny('opening-consent-missing');
}

/** Rules 1, 3, 4, 5, 6, 7 for reading. */
function professionalRead(pro: ProfessionalIdentity, mode: AccessMode, target: PolicyTarget, facts: PatientFacts, options: PolicyOptions): PolicyDecision {
  const route = readingRoute(pro, mode, facts);
  if (!route.allow) return route;
  if (!options.matrix.knowsProfession(pro.profession)) return deny('unknown-profession');
  if (target.kind !== 'document') return route;
  const doc = target.document;
  if (isAuthor(pro, doc)) return allow('author');
  const matrix = options.matrix.mayRead(pro.profession, pro.speciality, doc.typeCode, doc.typeSystem);
  if (!matrix.allow) return deny(matrix.reason);
  if (doc.labels.includes(VISIBILITY.MASQUE_PS) && !seesMasked(pro, facts)) return deny('masked');
  return route;
}

/** Why this professional may read this DMP at all: authorisation first, then the emergency modes. */
function readingRoute(pro: ProfessionalIdentity, mode: AccessMode, facts: PatientFacts): PolicyDecision {
  if (facts.medecinTraitantIds.includes(pro.practitionerId)) return allow('medecin-traitant');
  if (facts.extendedRightsIds.includes(pro.practitionerId)) return allow('extended-rights');
  if (names(facts.authorised, pro)) return allow('authorised');
  if (mode === 'bris_de_glace') {
    if (facts.emergencyOpposition.brisDeGlace) return deny('emergency-opposed');
    return isHealthProfession(pro.profession) ? allow('bris-de-glace') : deny('not-a-health-professional');
  }
  if (mode === 'centre_15') {
    if (facts.emergencyOpposition.centre15) return deny('emergency-opposed');
    return pro.regulator ? allow('centre-15') : deny('not-regulator');
  }
  return deny('not-authorised');
}

/** Rule 7: the author changes or deletes without a reading authorisation; others see why not. */
function authorOnly(pro: ProfessionalIdentity, mode: AccessMode, target: Extract<PolicyTarget, { kind: 'document' }>, facts: PatientFacts, options: PolicyOptions): PolicyDecision {
  if (isAuthor(pro, target.document)) return allow('author');
  const read = professionalRead(pro, mode, target, facts, options);
  return read.allow ? deny('not-author') : read;
}

/** A professional records, in the patient's presence, the patient's permit for themselves or their structure. */
function recordAuthorisation(pro: ProfessionalIdentity, consent: ConsentFacts): PolicyDecision {
  const actors = [...consent.actorPractitionerIds, ...consent.actorOrganizationIds];
  const ownActors =
    actors.length > 0 &&
    consent.actorPractitionerIds.every((id) => id === pro.practitionerId) &&
    consent.actorOrganizationIds.every((id) => id === pro.structure);
  const treatOnly = consent.purposes.length > 0 && consent.purposes.every((p) => p === 'TREAT');
  return consent.provisionType === 'permit' && ownActors && treatOnly && consent.securityLabels.length === 0
    ? allow('consent-recorded')
    : deny('reserved-to-patient');
}

function names(list: PatientFacts['authorised'], pro: ProfessionalIdentity): boolean {
  return list.practitionerIds.includes(pro.practitionerId) || (pro.structure !== undefined && list.organizationIds.includes(pro.structure));
}

function seesMasked(pro: ProfessionalIdentity, facts: PatientFacts): boolean {
  return facts.medecinTraitantIds.includes(pro.practitionerId) || facts.extendedRightsIds.includes(pro.practitionerId);
}

function isAuthor(pro: ProfessionalIdentity, doc: DocumentFacts): boolean {
  return doc.authorPractitionerIds.includes(pro.practitionerId);
}

// ---------------------------------------------------------------------------------------------
// The patient and their legal representative (rules 4, 8, 9)
// ---------------------------------------------------------------------------------------------

type PatientRole = { readonly role: 'holder' | 'representative' } | { readonly role: 'none'; readonly reason: DenyReason };

function patientRole(principal: Extract<Principal, { kind: 'patient' }>, facts: PatientFacts): PatientRole {
  if (principal.patientId === facts.patientId) return { role: 'holder' };
  const representatives = facts.legalRepresentativeIds ?? [];
  const keys = [principal.patientId, principal.token.fhirUser].filter((k): k is string => k !== undefined);
  if (!keys.some((k) => representatives.includes(k))) return { role: 'none', reason: 'not-own-record' };
  return facts.isMinor ? { role: 'representative' } : { role: 'none', reason: 'representative-of-adult' };
}

/** What the patient may still do on a closed DMP: read it, read its traces, reopen it. */
const ALLOWED_WHEN_CLOSED: ReadonlySet<PolicyAction> = new Set(['read', 'search', 'read-audit', 'reopen', 'destroy']);

function forPatientUser(who: PatientRole, action: PolicyAction, target: PolicyTarget, facts: PatientFacts, options: PolicyOptions): PolicyDecision {
  if (who.role === 'none') return deny(who.reason);
  const granted = allow(who.role === 'holder' ? 'patient-self' : 'legal-representative');
  if (facts.closed && !ALLOWED_WHEN_CLOSED.has(action)) return deny('dmp-closed');
  const doc = target.kind === 'document' ? target.document : undefined;
  const hidden = doc && action !== 'create' ? hiddenFromPatientUser(who.role, doc, options) : undefined;
  if (hidden) return hidden; // a hidden document behaves as absent, whatever the action
  switch (action) {
    case 'read':
    case 'search':
      return granted;
    case 'read-audit':
    case 'manage-consent':
    case 'close':
    case 'reopen':
    case 'destroy':
      return doc ? deny('default-deny') : granted;
    case 'create':
      if (target.kind === 'dmp' && target.part === 'lists') return granted; // the SubmissionSet of their own deposit
      if (!doc) return deny('default-deny');
      return isPatientDocumentType(doc) ? granted : deny('patient-document-types-only');
    case 'update':
      if (target.kind === 'dmp') return granted; // e.g. setting the médecin traitant (generalPractitioner)
      if (!doc) return deny('default-deny');
      return doc.depositedByPatient ? granted : deny('not-author');
    case 'delete':
      if (!doc) return deny('default-deny');
      return doc.depositedByPatient ? granted : deny('not-author');
    case 'change-visibility': // masks and unmasks any document they can see
      return doc ? granted : deny('default-deny');
    default:
      return deny('default-deny');
  }
}

/** Rule 4 for the patient side: INVISIBLE_REPRESENTANTS_LEGAUX, then INVISIBLE_PATIENT until the delay ends. */
function hiddenFromPatientUser(role: 'holder' | 'representative', doc: DocumentFacts, options: PolicyOptions): PolicyDecision | undefined {
  if (role === 'representative' && doc.labels.includes(VISIBILITY.INVISIBLE_REPRESENTANTS_LEGAUX)) return deny('invisible-to-representatives');
  if (doc.labels.includes(VISIBILITY.INVISIBLE_PATIENT) && !delayOver(doc.deposited, options)) return deny('invisible-to-patient');
  return undefined;
}

/** An INVISIBLE_PATIENT document becomes visible once deposited + delay ≤ now; an unknown deposit keeps it hidden. */
function delayOver(deposited: string | undefined, options: PolicyOptions): boolean {
  const at = deposited === undefined ? NaN : Date.parse(deposited);
  return at <= Date.parse(invisibleUntilDepositedBefore(options));
}

/** The latest deposit instant whose INVISIBLE_PATIENT documents are visible now. */
function invisibleUntilDepositedBefore(options: PolicyOptions): string {
  const days = options.invisiblePatientDelayDays ?? DEFAULT_INVISIBLE_PATIENT_DELAY_DAYS;
  if (!Number.isFinite(days) || days < 0) throw new RangeError(`invisiblePatientDelayDays must be a non-negative number, not ${days}`);
  return new Date(options.now.getTime() - days * DAY_MS).toISOString();
}

// ---------------------------------------------------------------------------------------------
// System clients by role: the insurer opens DMPs, feeds and reads back REMB, looks records up
// ---------------------------------------------------------------------------------------------

function forSystem(role: SystemRole | undefined, action: PolicyAction, target: PolicyTarget, facts: PatientFacts): PolicyDecision {
  const decision = systemDecision(role, action, target);
  if (decision.allow && action === 'create' && target.kind === 'document' && facts.closed) return deny('dmp-closed');
  return decision;
}

/** A system client's decision before the record's state is known (it depends on nothing else). */
export function systemDecision(role: SystemRole | undefined, action: PolicyAction, target: PolicyTarget): PolicyDecision {
  if (role !== 'insurer') return deny('system-not-allowed');
  const reads = action === 'read' || action === 'search';
  if (target.kind === 'dmp' && target.part === 'patient' && (reads || action === 'create')) return allow('system-client');
  // The documents' search gate: readableDocumentConstraints narrows it to REMB.
  if (target.kind === 'dmp' && target.part === 'documents' && action === 'search') return allow('system-client');
  // Its REMB documents: fed, read back, and superseded by the next history (replacement is an update).
  if (target.kind === 'document' && (reads || action === 'create' || action === 'update')) {
    if (isReimbursement(target.document)) return allow('system-client');
    return reads ? deny('insurer-reimbursement-only') : deny('system-not-allowed');
  }
  return deny('system-not-allowed');
}

const REIMBURSEMENT_TYPE: TypeCoding = { system: DOC_TYPE_COMPLEMENTARY_SYSTEM, code: 'REMB' };

/** The documents a system client reads, in any record (its rules do not depend on the record): the insurer, REMB only. */
export function systemDocumentConstraints(role: SystemRole | undefined): DocumentConstraints {
  if (role !== 'insurer') return { none: true, reason: 'system-not-allowed' };
  return { none: false, allowedTypes: [REIMBURSEMENT_TYPE], allowedTypeCodes: [REIMBURSEMENT_TYPE.code], hiddenLabels: [] };
}

function isReimbursement(doc: DocumentFacts): boolean {
  return doc.typeCode === 'REMB' && isComplementaryType(doc);
}

/** DOCPAT01…DOCPAT09 (TRE_A05): what the patient deposits. */
function isPatientDocumentType(doc: DocumentFacts): boolean {
  return /^DOCPAT\d{2}$/.test(doc.typeCode ?? '') && isComplementaryType(doc);
}

function isComplementaryType(doc: DocumentFacts): boolean {
  return doc.typeSystem === undefined || doc.typeSystem === DOC_TYPE_COMPLEMENTARY_SYSTEM;
}

// ---------------------------------------------------------------------------------------------
// The same rules as a filter, for searches (so paging and totals stay right)
// ---------------------------------------------------------------------------------------------

/**
 * Which documents of this DMP a principal may read, as a description the repository turns into SQL.
 * A document is readable when `none` is false and: it is authored by `exceptAuthorId`; or its type is
 * in `allowedTypes` (when given; a document without a type system matches on the code), it carries
 * none of `hiddenLabels`, and if it carries `visibleAfter.label` it was deposited at or before
 * `visibleAfter.depositedAtOrBefore`. Agrees with `decide(principal, 'read', document)`.
 */
export type DocumentConstraints =
  | { readonly none: true; readonly reason: DenyReason }
  | {
      readonly none: false;
      readonly allowedTypes?: readonly TypeCoding[];
      /** The codes of allowedTypes (codes are unique across the matrix's systems). */
      readonly allowedTypeCodes?: readonly string[];
      readonly hiddenLabels: readonly string[];
      readonly exceptAuthorId?: string;
      readonly visibleAfter?: { readonly label: string; readonly depositedAtOrBefore: string };
    };

/** The document filter of a search by `principal` in this DMP (see DocumentConstraints). */
export function readableDocumentConstraints(principal: Principal, facts: PatientFacts, options: PolicyOptions): DocumentConstraints {
  const gate = decide(principal, 'search', DOCUMENTS_GATE, facts, options);
  if (!gate.allow) return { none: true, reason: gate.reason };
  switch (principal.kind) {
    case 'internal':
      return { none: false, hiddenLabels: [] };
    case 'practitioner': {
      const pro = principal.professional;
      const allowedTypes = options.matrix.readableTypeCodings(pro.profession, pro.speciality);
      return {
        none: false,
        allowedTypes,
        allowedTypeCodes: allowedTypes.map((t) => t.code),
        hiddenLabels: seesMasked(pro, facts) ? [] : [VISIBILITY.MASQUE_PS],
        exceptAuthorId: pro.practitionerId,
      };
    }
    case 'patient': {
      const role = patientRole(principal, facts).role;
      return {
        none: false,
        hiddenLabels: role === 'representative' ? [VISIBILITY.INVISIBLE_REPRESENTANTS_LEGAUX] : [],
        visibleAfter: { label: VISIBILITY.INVISIBLE_PATIENT, depositedAtOrBefore: invisibleUntilDepositedBefore(options) },
      };
    }
    case 'system':
      return systemDocumentConstraints(principal.role);
    default:
      return { none: true, reason: 'default-deny' };
  }
}

/** Whether one document passes the constraints: the reference for the SQL translation and for post-filters (_include). */
export function documentMatchesConstraints(doc: DocumentFacts, constraints: DocumentConstraints): boolean {
  if (constraints.none) return false;
  if (constraints.exceptAuthorId !== undefined && doc.authorPractitionerIds.includes(constraints.exceptAuthorId)) return true;
  if (constraints.allowedTypes && !constraints.allowedTypes.some((t) => t.code === doc.typeCode && (doc.typeSystem === undefined || doc.typeSystem === t.system))) {
    return false;
  }
  if (doc.labels.some((label) => constraints.hiddenLabels.includes(label))) return false;
  const after = constraints.visibleAfter;
  if (after && doc.labels.includes(after.label)) {
    const at = doc.deposited === undefined ? NaN : Date.parse(doc.deposited);
    return at <= Date.parse(after.depositedAtOrBefore);
  }
  return true;
}
