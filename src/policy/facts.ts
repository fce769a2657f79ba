/**
 * What `decide` (decide.ts) needs to know, read from the database (issue 4): the PatientFacts of a
 * DMP (its Patient, its active Consents, the legal representatives of a minor) and the DocumentFacts
 * or ConsentFacts of one resource. Every query is an INTERNAL search or read (the server reading its
 * own rules, never through a caller's scopes). The interpretation itself is pure (`patientFactsFrom`,
 * `documentFacts`, `consentFacts`, `provisionRules`...) and unit-tested; the loaders only fetch.
 *
 * ## The four Consent shapes (dmp-domain.md §7.1)
 *
 * Every one is a Consent with `status` active, `patient`, `dateTime`, one root `provision` with its
 * `type`, and a `policyRule` (R4 ppc-1); `scope` patient-privacy and `category` LOINC 59284-0 as
 * FR Core does. Only `status = active` Consents count; `provision.period` (optional) must cover `now`.
 * `provision.actor` (role v3-ParticipationType#IRCP, required by R4) names a professional:
 * `Practitioner/<id>`, `PractitionerRole/<id>` (= its practitioner), `Organization/<id>` (= the
 * structure: its IDNST / FINESS identifier values, the `structure` of a professional's token), or a
 * logical reference by identifier (IDNPS / RPPS for a Practitioner, IDNST / FINESS for a structure).
 *
 * 1. Authorisation (rule 1): `permit` + purpose v3-ActReason#TREAT + actor(s).
 *      "provision": { "type": "permit",
 *        "period": { "start": "2025-03-01T10:00:00+01:00", "end": "2026-03-01T10:00:00+01:00" },
 *        "actor": [{ "role": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP" }] },
 *                    "reference": { "reference": "Practitioner/dr-durand" } }],
 *        "purpose": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT" }] }
 * 2. Block (rule 2): `deny` + actor(s), whatever its purpose unless that purpose is ETREAT alone;
 *    wins over every permit and access mode.
 *      "policyRule": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTOUT" }] },
 *      "provision": { "type": "deny", "actor": [{ "role": { ...IRCP }, "reference": { "reference": "Practitioner/dr-martin" } }] }
 * 3. Emergency opposition (rule 6): `deny` + purpose v3-ActReason#ETREAT (or an access-mode code), no
 *    actor needed (its actors are not interpreted: an opposition applies to every professional).
 *    `provision.code` codings of TRE_R248 (`urn:oid:1.2.250.1.213.1.1.4.248`) say which modes it
 *    opposes: `bris_de_glace`, `centre_15`; without such a code it opposes both.
 *      "provision": { "type": "deny",
 *        "purpose": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "ETREAT" }],
 *        "code": [{ "coding": [{ "system": "urn:oid:1.2.250.1.213.1.1.4.248", "code": "bris_de_glace" }] }] }
 * 4. Extended rights (rule 5, the médecin traitant's rights for another professional): `permit` +
 *    Practitioner actor(s) + `provision.securityLabel` with a TRE_A07 code (MASQUE_PS and/or
 *    INVISIBLE_PATIENT, system VISIBILITY_SYSTEM). With purpose TREAT it is also an authorisation.
 *      "provision": { "type": "permit", "actor": [ ...IRCP Practitioner/dr-durand ],
 *        "purpose": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT" }],
 *        "securityLabel": [{ "system": "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/TRE-A07-StatutVisibiliteDocument", "code": "MASQUE_PS" }] }
 *
 * Interpretation details (each a deliberate choice; doubt restricts):
 * - Nested provisions are rules too: a nested provision takes from its parent every element it does
 *   not set (type, actor, purpose, code, securityLabel) and is in force only inside its parent's
 *   period. Data-level restrictions (data, class, dataPeriod, securityLabel on a deny) are not
 *   modelled: a deny naming professionals blocks them entirely.
 * - `Consent.scope` is not interpreted. Purposes without a system are read as v3-ActReason codes.
 * - An unreadable period bound keeps a deny in force and a permit out of force.
 * - A deny naming a PractitionerRole or Organization that was deleted since still names whom it
 *   named (its last version); a permit only names live resources.
 * - Closed DMP: `Patient.active = false`; with `active` absent, a closure extension
 *   (DMP_CLOSURE_EXTENSION_URL) whose `dateFermeture` is absent or past. `active = true` is open.
 * - Minor: under 18 on `now`'s calendar date in Europe/Paris (the 18th birthday is the first adult
 *   day; a partial birthDate counts from its first day; no birthDate = not a minor).
 * - Legal representatives: RelatedPersons of the patient with `active` not false, `period` covering
 *   now, and a relationship in LEGAL_REPRESENTATIVE_RELATIONSHIPS; each is listed as
 *   `RelatedPerson/<id>` and as the ids of the Patients carrying one of its INS identifiers (the
 *   representative's own record, the one a patient login resolves to).
 */
import type {
  CodeableConcept,
  Coding,
  Consent,
  ConsentProvision,
  DocumentReference,
  Extension,
  Identifier,
  Organization,
  Patient,
  Period,
  PractitionerRole,
  Reference,
  RelatedPerson,
  Resource,
} from '@medplum/fhirtypes';
import {
  ACCESS_MODE_SYSTEM,
  ACT_REASON_SYSTEM,
  DMP_CLOSURE_EXTENSION_URL,
  DOC_CLASS_SYSTEM,
  DOC_TYPE_COMPLEMENTARY_SYSTEM,
  FINESS_SYSTEM,
  FR_CORE_CONTACT_RELATIONSHIP_SYSTEM,
  IDNPS_RPPS_PREFIX,
  IDNPS_SYSTEM,
  IDNST_FINESS_PREFIX,
  IDNST_SYSTEM,
  INS_SYSTEMS,
  LOINC_SYSTEM,
  RPPS_SYSTEM,
  V3_ROLE_CODE_SYSTEM,
  VISIBILITY,
  VISIBILITY_SYSTEM,
} from '../dmp/identifiers.js';
import { isValidId, parseReference } from '../fhir/references.js';
import type { SupportedType } from '../fhir/resource-types.js';
import { parseDateRange } from '../fhir/search/date-range.js';
import { parseSearch } from '../fhir/search/request.js';
import type { ResourceRepo } from '../repo/resource-repo.js';
import { runSearch, type SearchQuery } from '../repo/search.js';
import type { ConsentFacts, DocumentFacts, PatientFacts } from './decide.js';
import { INTERNAL } from './principal.js';
import { searchFilterFor } from './search-filter.js';

/** The TRE_R248 URL form of ACCESS_MODE_SYSTEM, accepted as well in `provision.code`. */
const ACCESS_MODE_URL = 'https://mos.esante.gouv.fr/NOS/TRE_R248_ModeAcces/FHIR/TRE-R248-ModeAcces';

/**
 * RelatedPerson.relationship codings that make a legal representative of a minor ("représentant
 * légal": the holders of parental authority, or a guardian). Step-parents and foster parents are
 * left out: they do not hold parental authority in French law. FR Core's contact-relationship codes
 * are `CUR` (représentant légal) and `GRD` (tuteur); its curatelle / sauvegarde codes concern adults.
 */
export const LEGAL_REPRESENTATIVE_RELATIONSHIPS: ReadonlyArray<{ readonly system: string; readonly codes: readonly string[] }> = [
  { system: V3_ROLE_CODE_SYSTEM, codes: ['GUARD', 'PRN', 'MTH', 'FTH', 'NPRN', 'NMTH', 'NFTH', 'ADOPTP', 'ADOPTM', 'ADOPTF'] },
  { system: FR_CORE_CONTACT_RELATIONSHIP_SYSTEM, codes: ['CUR', 'GRD'] },
];

/** TRE_A07 codes of a permit's securityLabel that grant the médecin traitant's extended rights. */
const EXTENDED_RIGHTS_LABELS: readonly string[] = [VISIBILITY.MASQUE_PS, VISIBILITY.INVISIBLE_PATIENT];

/** Rows fetched per internal search page (they are all read: a block must never be cut off). */
const PAGE_SIZE = 500;

// ---------------------------------------------------------------------------------------------
// Consent provisions as rules (pure)
// ---------------------------------------------------------------------------------------------

export type EmergencyMode = 'bris_de_glace' | 'centre_15';

/** One provision of a Consent (root or nested), with what it inherits from its parents. */
export interface ProvisionRule {
  readonly type: 'permit' | 'deny';
  readonly actors: readonly Reference[];
  /** v3-ActReason codes (TREAT, ETREAT); a purpose of another system as `system|code`. */
  readonly purposes: readonly string[];
  /** TRE_R248 codes among provision.code. */
  readonly accessModes: readonly EmergencyMode[];
  readonly securityLabels: readonly Coding[];
  /** Its period and every parent's cover `now` (always true when no `now` was given). */
  readonly inForce: boolean;
}

/** Every provision of the Consent as a rule, root first, depth first. A provision without any type yields none. */
export function provisionRules(consent: Consent, now?: Date): ProvisionRule[] {
  const out: ProvisionRule[] = [];
  const visit = (p: ConsentProvision, parent: ProvisionRule | undefined, parentInForce: boolean): void => {
    const type = p.type ?? parent?.type;
    const actors: Reference[] = (p.actor ?? []).flatMap((a) => (a.reference ? [a.reference as Reference] : []));
    const purposes = (p.purpose ?? []).map(purposeCode).filter((c): c is string => c !== undefined);
    const accessModes = accessModesOf(p.code);
    const labels = p.securityLabel ?? [];
    const inForceType = type ?? 'permit';
    const inForce = parentInForce && (now === undefined || periodCovers(p.period, now, inForceType === 'deny'));
    const rule: ProvisionRule | undefined = type
      ? {
          type,
          actors: actors.length > 0 ? actors : parent?.actors ?? [],
          purposes: purposes.length > 0 ? purposes : parent?.purposes ?? [],
          accessModes: accessModes.length > 0 ? accessModes : parent?.accessModes ?? [],
          securityLabels: labels.length > 0 ? labels : parent?.securityLabels ?? [],
          inForce,
        }
      : undefined;
    if (rule) out.push(rule);
    for (const child of p.provision ?? []) visit(child, rule ?? parent, inForce);
  };
  if (consent.provision) visit(consent.provision, undefined, true);
  return out;
}

/** What one rule means for the DMP, before its actors are resolved. */
export interface RuleMeaning {
  /** permit + TREAT: its actors are authorised. */
  readonly authorises: boolean;
  /** permit + a TRE_A07 label: its Practitioner actors get the médecin traitant's rights. */
  readonly extendsRights: boolean;
  /** deny naming professionals (unless its purpose is ETREAT alone): its actors are blocked. */
  readonly blocks: boolean;
  /** deny + ETREAT or an access-mode code: the emergency modes it opposes. */
  readonly opposes: readonly EmergencyMode[];
}

export function ruleMeaning(rule: ProvisionRule): RuleMeaning {
  if (rule.type === 'permit') {
    return {
      authorises: rule.purposes.includes('TREAT') && rule.actors.length > 0,
      extendsRights: rule.actors.length > 0 && rule.securityLabels.some(isExtendedRightsLabel),
      blocks: false,
      opposes: [],
    };
  }
  const emergencyOnly = rule.purposes.length > 0 && rule.purposes.every((p) => p === 'ETREAT');
  const emergency = rule.purposes.includes('ETREAT') || rule.accessModes.length > 0;
  return {
    authorises: false,
    extendsRights: false,
    blocks: rule.actors.length > 0 && !emergencyOnly,
    opposes: emergency ? (rule.accessModes.length > 0 ? [...rule.accessModes] : ['bris_de_glace', 'centre_15']) : [],
  };
}

function isExtendedRightsLabel(label: Coding): boolean {
  return label.system === VISIBILITY_SYSTEM && label.code !== undefined && EXTENDED_RIGHTS_LABELS.includes(label.code);
}

function purposeCode(c: Coding): string | undefined {
  if (!c.code) return undefined;
  return c.system === undefined || c.system === ACT_REASON_SYSTEM ? c.code : `${c.system}|${c.code}`;
}

function accessModesOf(codes: readonly CodeableConcept[] | undefined): EmergencyMode[] {
  const modes = new Set<EmergencyMode>();
  for (const coding of (codes ?? []).flatMap((c) => c.coding ?? [])) {
    if ((coding.system === ACCESS_MODE_SYSTEM || coding.system === ACCESS_MODE_URL) && (coding.code === 'bris_de_glace' || coding.code === 'centre_15')) {
      modes.add(coding.code);
    }
  }
  return [...modes];
}

/**
 * True when `now` falls in the period ([start, end], each bound at its precision: an end of
 * `2025-06` lasts the whole month). No period: always. `whenUnreadable` answers for a bad bound.
 */
export function periodCovers(period: Period | undefined, now: Date, whenUnreadable: boolean): boolean {
  if (!period) return true;
  const start = period.start !== undefined ? parseDateRange(period.start) : undefined;
  const end = period.end !== undefined ? parseDateRange(period.end) : undefined;
  if ((period.start !== undefined && !start) || (period.end !== undefined && !end)) return whenUnreadable;
  const t = now.getTime();
  return (!start || start.lo.getTime() <= t) && (!end || t < end.hi.getTime());
}

// ---------------------------------------------------------------------------------------------
// References to professionals (pure part)
// ---------------------------------------------------------------------------------------------

/** Whom a reference names, as decide compares them: Practitioner ids and structure ids. */
export interface NamedProfessionals {
  readonly practitionerIds: readonly string[];
  readonly structureIds: readonly string[];
}

/** A resolved reference: what it names now (live resources) and what it last named (deleted ones too). */
export interface Resolution {
  readonly live: NamedProfessionals;
  readonly lastKnown: NamedProfessionals;
}

/** Resolutions of the references that need the database, keyed by `referenceKey`. */
export type Resolutions = ReadonlyMap<string, Resolution>;

const NOBODY: NamedProfessionals = { practitionerIds: [], structureIds: [] };

/** `Type/id` of a literal reference, `identifier:system|value` of a logical one, else undefined. */
export function referenceKey(ref: Reference): string | undefined {
  const literal = ref.reference !== undefined ? parseReference(ref.reference) : undefined;
  if (literal) return `${literal.type}/${literal.id}`;
  if (ref.reference === undefined && ref.identifier?.system && ref.identifier.value) {
    return `identifier:${ref.identifier.system}|${ref.identifier.value}`;
  }
  return undefined;
}

/**
 * Whom a reference names without the database: a literal Practitioner, or a structure identifier
 * (IDNST / FINESS); undefined when it needs the database (PractitionerRole, Organization, IDNPS).
 */
function namedWithoutDb(ref: Reference): NamedProfessionals | undefined {
  const literal = ref.reference !== undefined ? parseReference(ref.reference) : undefined;
  if (literal?.type === 'Practitioner') return { practitionerIds: [literal.id], structureIds: [] };
  if (ref.reference === undefined && ref.identifier) {
    const structures = structureIdsOfIdentifier(ref.identifier);
    if (structures.length > 0) return { practitionerIds: [], structureIds: structures };
  }
  return undefined;
}

/** Whom `ref` names, for a permit (`live`) or a deny (`lastKnown`); nobody when unknown. */
function named(ref: Reference, resolutions: Resolutions, side: keyof Resolution): NamedProfessionals {
  const direct = namedWithoutDb(ref);
  if (direct) return direct;
  const key = referenceKey(ref);
  return (key !== undefined ? resolutions.get(key)?.[side] : undefined) ?? NOBODY;
}

/**
 * The structure ids an identifier stands for, the IDNST form first: an IDNST value (and, for
 * `1` + FINESS, the FINESS), a FINESS (after its IDNST `1` + FINESS). A professional's token carries
 * one of these forms (PSC `identifiantTechniqueDeLaStructure`, else `numeroFinessSite`).
 */
export function structureIdsOfIdentifier(identifier: Identifier): string[] {
  const value = identifier.value;
  if (!value) return [];
  if (identifier.system === IDNST_SYSTEM) {
    return value.startsWith(IDNST_FINESS_PREFIX) && value.length === 10 ? [value, value.slice(1)] : [value];
  }
  if (identifier.system === FINESS_SYSTEM) return [IDNST_FINESS_PREFIX + value, value];
  return [];
}

/**
 * The structure ids of an Organization: every IDNST / FINESS form, IDNST identifiers first; without
 * any, its first identifier value, else its id (the demo identity provider's rule for
 * `identifiantTechniqueDeLaStructure`, so the first id is the one its professionals' tokens carry).
 */
export function structureIdsOf(org: Organization): string[] {
  const identifiers = org.identifier ?? [];
  const ordered = [...identifiers.filter((i) => i.system === IDNST_SYSTEM), ...identifiers.filter((i) => i.system !== IDNST_SYSTEM)];
  const ids = unique(ordered.flatMap(structureIdsOfIdentifier));
  if (ids.length > 0) return ids;
  const any = org.identifier?.find((i) => i.value)?.value ?? org.id;
  return any ? [any] : [];
}

// ---------------------------------------------------------------------------------------------
// PatientFacts (pure assembly)
// ---------------------------------------------------------------------------------------------

/** A RelatedPerson of the patient with the Patient ids of the representative's own record. */
export interface RepresentativeCandidate {
  readonly resource: RelatedPerson;
  readonly ownPatientIds: readonly string[];
}

export interface PatientFactsInput {
  readonly patient: Patient;
  /** The patient's Consents (those not `active` are ignored here as well). */
  readonly consents: readonly Consent[];
  readonly relatedPersons: readonly RepresentativeCandidate[];
  readonly resolutions: Resolutions;
  readonly now: Date;
}

/** The PatientFacts of a DMP from its resources, already fetched (see loadPatientFacts). */
export function patientFactsFrom(input: PatientFactsInput): PatientFacts {
  const { patient, now, resolutions } = input;
  const patientId = patient.id ?? '';
  const authorised = collector();
  const blocked = collector();
  const extended = new Set<string>();
  const opposed = new Set<EmergencyMode>();
  for (const consent of input.consents) {
    if (consent.status !== 'active') continue;
    for (const rule of provisionRules(consent, now)) {
      if (!rule.inForce) continue;
      const meaning = ruleMeaning(rule);
      meaning.opposes.forEach((mode) => opposed.add(mode));
      for (const actor of rule.actors) {
        if (meaning.authorises) authorised.add(named(actor, resolutions, 'live'));
        if (meaning.extendsRights) named(actor, resolutions, 'live').practitionerIds.forEach((id) => extended.add(id));
        if (meaning.blocks) blocked.add(named(actor, resolutions, 'lastKnown'));
      }
    }
  }
  const medecinTraitantIds = unique((patient.generalPractitioner ?? []).flatMap((ref) => named(ref, resolutions, 'live').practitionerIds));
  const legalRepresentativeIds = unique(
    input.relatedPersons
      .filter((rp) => isLegalRepresentative(rp.resource, patientId, now))
      .flatMap((rp) => [`RelatedPerson/${rp.resource.id}`, ...rp.ownPatientIds.filter((id) => id !== patientId)])
  );
  return {
    patientId,
    closed: isClosed(patient, now),
    authorised: authorised.result(),
    blocked: blocked.result(),
    emergencyOpposition: { brisDeGlace: opposed.has('bris_de_glace'), centre15: opposed.has('centre_15') },
    medecinTraitantIds,
    extendedRightsIds: [...extended].sort(),
    legalRepresentativeIds,
    isMinor: isMinorOn(patient.birthDate, now),
  };
}

function collector(): { add(n: NamedProfessionals): void; result(): PatientFacts['authorised'] } {
  const practitioners = new Set<string>();
  const structures = new Set<string>();
  return {
    add(n) {
      n.practitionerIds.forEach((id) => practitioners.add(id));
      n.structureIds.forEach((id) => structures.add(id));
    },
    result: () => ({ practitionerIds: [...practitioners].sort(), organizationIds: [...structures].sort() }),
  };
}

/** Rule 9's closed DMP (see the header: `active` first, then the closure extension). */
export function isClosed(patient: Patient, now: Date): boolean {
  if (patient.active === false) return true;
  if (patient.active === true) return false;
  return (patient.extension ?? []).some((e) => e.url === DMP_CLOSURE_EXTENSION_URL && closureInForce(e, now));
}

function closureInForce(extension: Extension, now: Date): boolean {
  const date = extension.extension?.find((e) => e.url === 'dateFermeture');
  const value = date?.valueDate ?? date?.valueDateTime;
  const range = value !== undefined ? parseDateRange(value) : undefined;
  return range === undefined || range.lo.getTime() <= now.getTime();
}

/** Under 18 on `now`'s date in Europe/Paris; a partial birthDate counts from its first day. */
export function isMinorOn(birthDate: string | undefined, now: Date): boolean {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(birthDate ?? '');
  if (!m) return false;
  const born = `${m[1]}-${m[2] ?? '01'}-${m[3] ?? '01'}`;
  const today = parisDate(now);
  const eighteenYearsBefore = `${String(Number(today.slice(0, 4)) - 18).padStart(4, '0')}${today.slice(4)}`;
  return born > eighteenYearsBefore;
}

const PARIS_DATE = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris', year: 'numeric', month: '2-digit', day: '2-digit' });

/** `YYYY-MM-DD` of an instant in Europe/Paris. */
function parisDate(now: Date): string {
  const parts = Object.fromEntries(PARIS_DATE.formatToParts(now).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/** An active legal representative of this patient at `now` (see LEGAL_REPRESENTATIVE_RELATIONSHIPS). */
export function isLegalRepresentative(rp: RelatedPerson, patientId: string, now: Date): boolean {
  const of = rp.patient?.reference !== undefined ? parseReference(rp.patient.reference) : undefined;
  return (
    rp.active !== false &&
    of?.type === 'Patient' &&
    of.id === patientId &&
    periodCovers(rp.period, now, false) &&
    (rp.relationship ?? []).some((concept) =>
      (concept.coding ?? []).some((c) => LEGAL_REPRESENTATIVE_RELATIONSHIPS.some((r) => r.system === c.system && c.code !== undefined && r.codes.includes(c.code)))
    )
  );
}

// ---------------------------------------------------------------------------------------------
// DocumentFacts and ConsentFacts (pure)
// ---------------------------------------------------------------------------------------------

/**
 * The DocumentFacts of a DocumentReference, without the database: the type coding of a DMP system
 * (LOINC, TRE_A05; else the first coded one), the TRE_A03 class, the TRE_A07 labels, the literal
 * Practitioner authors, and whether the subject Patient is an author. The deposit time is the
 * database's (`documentFactsFromDb`).
 * PractitionerRole authors (and a representative's deposit) need `documentFactsFromDb`.
 */
export function documentFacts(doc: DocumentReference): DocumentFacts {
  const typeCodings = (doc.type?.coding ?? []).filter((c) => c.code);
  const type = typeCodings.find((c) => c.system === LOINC_SYSTEM || c.system === DOC_TYPE_COMPLEMENTARY_SYSTEM) ?? typeCodings[0];
  const classCodings = (doc.category ?? []).flatMap((c) => c.coding ?? []).filter((c) => c.code);
  const classCoding = classCodings.find((c) => c.system === DOC_CLASS_SYSTEM) ?? classCodings[0];
  const subject = subjectPatientId(doc);
  const authors = (doc.author ?? []).map((a) => (a.reference !== undefined ? parseReference(a.reference) : undefined));
  return {
    ...(type?.code !== undefined ? { typeCode: type.code } : {}),
    ...(type?.system !== undefined ? { typeSystem: type.system } : {}),
    ...(classCoding?.code !== undefined ? { classCode: classCoding.code } : {}),
    labels: unique((doc.securityLabel ?? []).flatMap((l) => l.coding ?? []).filter((c) => c.system === VISIBILITY_SYSTEM && c.code).map((c) => c.code as string)),
    authorPractitionerIds: unique(authors.filter((a) => a?.type === 'Practitioner').map((a) => a?.id as string)),
    depositedByPatient: subject !== undefined && authors.some((a) => a?.type === 'Patient' && a.id === subject),
  };
}

function subjectPatientId(doc: DocumentReference): string | undefined {
  const ref = doc.subject?.reference !== undefined ? parseReference(doc.subject.reference) : undefined;
  return ref?.type === 'Patient' ? ref.id : undefined;
}

/**
 * The ConsentFacts of a Consent a principal wants to write, without the database: its provisions
 * merged (`deny` if any provision denies; actors, purposes and labels of all of them). Literal
 * Practitioner actors give their id, IDNST / FINESS identifiers their structure id; every other
 * actor is kept as written among the practitioner ids, so it matches no professional.
 */
export function consentFacts(consent: Consent): ConsentFacts {
  return mergeConsent(consent, (ref) => {
    const direct = namedWithoutDb(ref);
    return direct ? single(direct) : undefined;
  });
}

function mergeConsent(consent: Consent, resolve: (ref: Reference) => { practitionerId?: string; structureId?: string } | undefined): ConsentFacts {
  const rules = provisionRules(consent);
  const practitioners = new Set<string>();
  const structures = new Set<string>();
  for (const ref of rules.flatMap((r) => r.actors)) {
    const one = resolve(ref);
    if (one?.practitionerId !== undefined) practitioners.add(one.practitionerId);
    else if (one?.structureId !== undefined) structures.add(one.structureId);
    else practitioners.add(referenceKey(ref) ?? ref.reference ?? ref.display ?? 'unresolved-actor');
  }
  return {
    provisionType: rules.some((r) => r.type === 'deny') || consent.provision?.type === 'deny' ? 'deny' : 'permit',
    actorPractitionerIds: [...practitioners],
    actorOrganizationIds: [...structures],
    purposes: unique(rules.flatMap((r) => r.purposes)),
    securityLabels: unique(rules.flatMap((r) => r.securityLabels).map((l) => l.code).filter((c): c is string => c !== undefined)),
  };
}

/** One id for one actor (ConsentFacts compares each actor with the principal): the first form. */
function single(n: NamedProfessionals): { practitionerId?: string; structureId?: string } | undefined {
  if (n.practitionerIds.length === 1 && n.structureIds.length === 0) return { practitionerId: n.practitionerIds[0] };
  if (n.practitionerIds.length === 0 && n.structureIds.length > 0) return { structureId: n.structureIds[0] };
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Loaders (database)
// ---------------------------------------------------------------------------------------------

/**
 * The PatientFacts of `patientId` at `now`, from the database (internal searches); undefined when
 * the Patient does not exist or is deleted.
 */
export async function loadPatientFacts(repo: ResourceRepo, patientId: string, now: Date): Promise<PatientFacts | undefined> {
  if (!isValidId(patientId)) return undefined; // never a search value with `,` or `|` in it
  const stored = await repo.read('Patient', patientId);
  if (!stored || stored.deleted || !stored.resource) return undefined;
  const patient = stored.resource as Patient;
  const consents = await searchAll<Consent>(repo, 'Consent', { patient: `Patient/${patientId}`, status: 'active' });
  const related = await searchAll<RelatedPerson>(repo, 'RelatedPerson', { patient: `Patient/${patientId}` });
  const relatedPersons: RepresentativeCandidate[] = [];
  for (const rp of related.filter((r) => isLegalRepresentative(r, patientId, now))) {
    relatedPersons.push({ resource: rp, ownPatientIds: await patientsWithInsOf(repo, rp) });
  }
  const refs = [
    ...(patient.generalPractitioner ?? []),
    ...consents.flatMap((c) => provisionRules(c, now).filter((r) => r.inForce).flatMap((r) => r.actors)),
  ];
  return patientFactsFrom({ patient, consents, relatedPersons, resolutions: await resolveReferences(repo, refs), now });
}

/** `documentFacts`, plus what the database knows: PractitionerRole and IDNPS / RPPS authors, a representative's deposit, the deposit time. */
export async function documentFactsFromDb(repo: ResourceRepo, doc: DocumentReference): Promise<DocumentFacts> {
  const base = documentFacts(doc);
  const authors = doc.author ?? [];
  const resolutions = await resolveReferences(repo, authors);
  const practitionerIds = unique([...base.authorPractitionerIds, ...authors.flatMap((a) => named(a, resolutions, 'live').practitionerIds)]);
  let depositedByPatient = base.depositedByPatient;
  const subject = subjectPatientId(doc);
  for (const author of authors) {
    const ref = author.reference !== undefined ? parseReference(author.reference) : undefined;
    if (depositedByPatient || subject === undefined || ref?.type !== 'RelatedPerson') continue;
    const rp = (await readLive(repo, 'RelatedPerson', ref.id)) as RelatedPerson | undefined;
    const of = rp?.patient?.reference !== undefined ? parseReference(rp.patient.reference) : undefined;
    depositedByPatient = of?.type === 'Patient' && of.id === subject;
  }
  // The deposit matters only to the INVISIBLE_PATIENT delay: read it only for such documents.
  const first = doc.id && base.labels.includes(VISIBILITY.INVISIBLE_PATIENT) ? await repo.readVersion('DocumentReference', doc.id, 1) : undefined;
  return { ...base, authorPractitionerIds: practitionerIds, depositedByPatient, ...(first ? { deposited: first.lastUpdated.toISOString() } : {}) };
}

/** `consentFacts`, with PractitionerRole, Organization and IDNPS / RPPS actors resolved (one id each). */
export async function consentFactsFromDb(repo: ResourceRepo, consent: Consent): Promise<ConsentFacts> {
  const actors = provisionRules(consent).flatMap((r) => r.actors);
  const resolutions = await resolveReferences(repo, actors);
  return mergeConsent(consent, (ref) => {
    const direct = namedWithoutDb(ref);
    if (direct) return single(direct);
    const key = referenceKey(ref);
    const live = key !== undefined ? resolutions.get(key)?.live : undefined;
    return live ? single(live) : undefined;
  });
}

/** Resolves the references that need the database (PractitionerRole, Organization, IDNPS / RPPS identifiers). */
export async function resolveReferences(repo: ResourceRepo, refs: readonly Reference[]): Promise<Map<string, Resolution>> {
  const out = new Map<string, Resolution>();
  for (const ref of refs) {
    const key = referenceKey(ref);
    if (key === undefined || out.has(key) || namedWithoutDb(ref)) continue;
    const resolution = await resolveOne(repo, ref);
    if (resolution) out.set(key, resolution);
  }
  return out;
}

async function resolveOne(repo: ResourceRepo, ref: Reference): Promise<Resolution | undefined> {
  const literal = ref.reference !== undefined ? parseReference(ref.reference) : undefined;
  if (literal?.type === 'PractitionerRole' || literal?.type === 'Organization') {
    const versions = await liveAndLast(repo, literal.type, literal.id);
    if (!versions) return undefined;
    const name = (r: Resource | undefined): NamedProfessionals => {
      if (!r) return NOBODY;
      if (r.resourceType === 'Organization') return { practitionerIds: [], structureIds: structureIdsOf(r) };
      const practitioner = parseReference((r as PractitionerRole).practitioner?.reference ?? '');
      return practitioner?.type === 'Practitioner' ? { practitionerIds: [practitioner.id], structureIds: [] } : NOBODY;
    };
    return { live: name(versions.live), lastKnown: name(versions.last) };
  }
  if (ref.reference === undefined && ref.identifier?.value) {
    const tokens = practitionerIdentifierTokens(ref.identifier);
    if (tokens.length === 0) return undefined;
    const found = await searchAll(repo, 'Practitioner', { identifier: tokens.join(',') });
    const practitioners: NamedProfessionals = { practitionerIds: unique(found.map((p) => p.id as string)), structureIds: [] };
    return { live: practitioners, lastKnown: practitioners };
  }
  return undefined;
}

/** `system|value` search tokens of a professional's national id: IDNPS, with its plain RPPS form and back. */
function practitionerIdentifierTokens(identifier: Identifier): string[] {
  const value = identifier.value ?? '';
  const escape = (v: string): string => v.replace(/([\\,|$])/g, '\\$1');
  if (identifier.system === IDNPS_SYSTEM) {
    const rpps = value.startsWith(IDNPS_RPPS_PREFIX) && value.length === 12 ? [`${RPPS_SYSTEM}|${escape(value.slice(1))}`] : [];
    return [`${IDNPS_SYSTEM}|${escape(value)}`, ...rpps];
  }
  if (identifier.system === RPPS_SYSTEM) return [`${RPPS_SYSTEM}|${escape(value)}`, `${IDNPS_SYSTEM}|${escape(IDNPS_RPPS_PREFIX + value)}`];
  return [];
}

/** The ids of the Patients carrying one of the RelatedPerson's INS identifiers (the representative's own record). */
async function patientsWithInsOf(repo: ResourceRepo, rp: RelatedPerson): Promise<string[]> {
  const tokens = (rp.identifier ?? [])
    .filter((i) => i.system !== undefined && INS_SYSTEMS.includes(i.system) && i.value)
    .map((i) => `${i.system}|${(i.value as string).replace(/([\\,|$])/g, '\\$1')}`);
  if (tokens.length === 0) return [];
  return unique((await searchAll<Patient>(repo, 'Patient', { identifier: tokens.join(',') })).map((p) => p.id as string));
}

async function readLive(repo: ResourceRepo, type: SupportedType, id: string): Promise<Resource | undefined> {
  const stored = await repo.read(type, id);
  return stored && !stored.deleted ? stored.resource : undefined;
}

/** The current version of a resource and, when it was deleted, the version before the deletion. */
async function liveAndLast(repo: ResourceRepo, type: SupportedType, id: string): Promise<{ live?: Resource; last?: Resource } | undefined> {
  const stored = await repo.read(type, id);
  if (!stored) return undefined;
  if (!stored.deleted) return { live: stored.resource, last: stored.resource };
  const previous = stored.versionId > 1 ? await repo.readVersion(type, id, stored.versionId - 1) : undefined;
  return { last: previous?.resource };
}

/** Every match of an internal search, page after page (never truncated). */
async function searchAll<T extends Resource>(repo: ResourceRepo, type: SupportedType, params: Readonly<Record<string, string>>): Promise<T[]> {
  const raw = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, [v]]));
  const parsed = parseSearch(type, raw, { lenient: false, defaultCount: PAGE_SIZE, maxCount: PAGE_SIZE });
  let query: SearchQuery = { ...parsed.query, count: PAGE_SIZE, total: false, include: [], revInclude: [] };
  const out: T[] = [];
  for (;;) {
    const page = await runSearch(repo.queryable, query, (t) => searchFilterFor(INTERNAL, t));
    out.push(...(page.matches as T[]));
    if (!page.next) return out;
    query = { ...query, cursor: page.next };
  }
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}
