import type { CodeableConcept, HumanName, Patient, Practitioner, PractitionerRole } from '@medplum/fhirtypes';
import {
  FR_CORE_IDENTIFIER_TYPE_SYSTEM,
  IDENTIFIER_TYPE,
  IDNPS_SYSTEM,
  INS_SYSTEMS,
  PROFESSION_SYSTEM,
  SPECIALITY_SYSTEM,
} from '../dmp/identifiers.js';
import { prepareWrite } from '../fhir/handlers/write-input.js';
import { parseReference } from '../fhir/references.js';
import type { ProfessionalIdentity } from '../policy/principal.js';
import type { ResourceRepo } from '../repo/resource-repo.js';
import { internalSearch } from './internal-search.js';

/** Who logged in, as this server knows them. `fhirUser` is relative to the FHIR base (`Practitioner/<id>`). */
export type ResolvedIdentity =
  | { readonly kind: 'practitioner'; readonly professional: ProfessionalIdentity; readonly fhirUser: string }
  | { readonly kind: 'patient'; readonly patientId: string; readonly fhirUser: string };

export type IdentityErrorCode =
  /** Neither `SubjectNameID` nor `ins` in the claims. */
  | 'no-identity'
  /** A claim is there but malformed (not a string, bad characters, `ins` system not an INS one). */
  | 'invalid-claims'
  /** No Patient carries the `ins` identifier. */
  | 'unknown-patient'
  /** More than one Patient carries it. */
  | 'ambiguous-patient';

/** Why the claims of a login give no usable identity; `message` is safe to show (no claim values). */
export class IdentityError extends Error {
  constructor(
    readonly code: IdentityErrorCode,
    message: string
  ) {
    super(message);
    this.name = 'IdentityError';
  }
}

/** The Pro Santé Connect claims this server uses, read and checked. */
export interface ProfessionalClaims {
  /** `SubjectNameID`: IdNat_PS (`8` + RPPS...). */
  readonly nationalId: string;
  readonly givenName?: string;
  readonly familyName?: string;
  /** First exercice's `codeProfession` (TRE_G15). */
  readonly profession?: string;
  /** First exercice's `codeSavoirFaire` (TRE_R38). */
  readonly speciality?: string;
  /** First activity's `identifiantTechniqueDeLaStructure`, else its `numeroFinessSite`. */
  readonly structure?: string;
  /** `Acces_Regulation_Medicale` = `VRAI` (or true). */
  readonly regulator: boolean;
}

// IdNat_PS: digits for `8`+RPPS / `0`+ADELI, `3`+FINESS`/`internal id for structure staff.
const NATIONAL_ID_RE = /^[A-Za-z0-9][A-Za-z0-9/._-]{0,63}$/;
const CODE_RE = /^[A-Za-z0-9._-]{1,64}$/;
const INS_VALUE_RE = /^[0-9A-Za-z]{1,32}$/;

/**
 * The professional claims, or undefined when there is no `SubjectNameID` (not a professional).
 * Throws IdentityError('invalid-claims') when `SubjectNameID` is there but unusable.
 */
export function readProfessionalClaims(claims: Readonly<Record<string, unknown>>): ProfessionalClaims | undefined {
  const nationalId = claims.SubjectNameID;
  if (nationalId === undefined || nationalId === null || nationalId === '') {
    return undefined;
  }
  if (typeof nationalId !== 'string' || !NATIONAL_ID_RE.test(nationalId)) {
    throw new IdentityError('invalid-claims', 'The SubjectNameID claim is not a national professional identifier');
  }
  const exercice = firstOf<PscExercice>(refPro(claims.SubjectRefPro)?.exercices);
  const activity = firstOf<PscActivity>(exercice?.activities);
  const givenName = text(claims.given_name) ?? text(exercice?.prenomDexercice);
  const familyName = text(claims.family_name) ?? text(exercice?.nomDexercice);
  const profession = code(exercice?.codeProfession, 'codeProfession');
  const speciality = code(exercice?.codeSavoirFaire, 'codeSavoirFaire');
  const structure = code(activity?.identifiantTechniqueDeLaStructure, 'identifiantTechniqueDeLaStructure') ?? code(activity?.numeroFinessSite, 'numeroFinessSite');
  const regulation = claims.Acces_Regulation_Medicale;
  return {
    nationalId,
    ...(givenName ? { givenName } : {}),
    ...(familyName ? { familyName } : {}),
    ...(profession ? { profession } : {}),
    ...(speciality ? { speciality } : {}),
    ...(structure ? { structure } : {}),
    regulator: regulation === true || (typeof regulation === 'string' && regulation.trim().toUpperCase() === 'VRAI'),
  };
}

/** The ProfessionalIdentity of a professional whose Practitioner is `practitionerId`. */
export function toProfessionalIdentity(claims: ProfessionalClaims, practitionerId: string): ProfessionalIdentity {
  return {
    nationalId: claims.nationalId,
    practitionerId,
    ...(claims.profession ? { profession: claims.profession } : {}),
    ...(claims.speciality ? { speciality: claims.speciality } : {}),
    ...(claims.structure ? { structure: claims.structure } : {}),
    regulator: claims.regulator,
  };
}

/**
 * Reads an `ins` claim (`system|value`); undefined when absent. Throws IdentityError('invalid-claims')
 * when it is not `system|value` or the system is not an INS one (NIR, NIA, test NIR, demo NIR).
 */
export function parseInsClaim(value: unknown): { system: string; value: string } | undefined {
  if (value === undefined || value === null || value === '') {
    return undefined;
  }
  const bar = typeof value === 'string' ? value.indexOf('|') : -1;
  if (typeof value !== 'string' || bar < 0) {
    throw new IdentityError('invalid-claims', 'The ins claim must be "system|value"');
  }
  const system = value.slice(0, bar);
  const ins = value.slice(bar + 1);
  if (!INS_SYSTEMS.includes(system)) {
    throw new IdentityError('invalid-claims', 'The ins claim system is not an INS identifier system');
  }
  if (!INS_VALUE_RE.test(ins)) {
    throw new IdentityError('invalid-claims', 'The ins claim value is not an INS');
  }
  return { system, value: ins };
}

/**
 * Turns the claims of an upstream login into a user of this server: a professional (`SubjectNameID`)
 * gets their Practitioner and PractitionerRole created or refreshed; a patient (`ins`) is matched to
 * the one Patient with that INS.
 */
export async function resolveIdentity(repo: ResourceRepo, claims: Readonly<Record<string, unknown>>): Promise<ResolvedIdentity> {
  const professional = readProfessionalClaims(claims);
  if (professional) {
    const practitionerId = await upsertProfessional(repo, professional);
    return { kind: 'practitioner', professional: toProfessionalIdentity(professional, practitionerId), fhirUser: `Practitioner/${practitionerId}` };
  }
  const ins = parseInsClaim(claims.ins);
  if (ins) {
    const patientId = await findPatient(repo, ins);
    return { kind: 'patient', patientId, fhirUser: `Patient/${patientId}` };
  }
  throw new IdentityError('no-identity', 'The identity provider gave neither a professional identifier (SubjectNameID) nor an INS');
}

/** Creates or refreshes the professional's Practitioner and PractitionerRole; returns the Practitioner id. */
async function upsertProfessional(repo: ResourceRepo, claims: ProfessionalClaims): Promise<string> {
  return repo.transaction(async (tx) => {
    // Two first logins of the same person at once must not create two Practitioners.
    await tx.lockKey(`practitioner:${IDNPS_SYSTEM}|${claims.nationalId}`);
    // Should several Practitioners share the id (data loaded by hand), always the same one is used.
    const { matches } = await internalSearch<Practitioner>(tx, 'Practitioner', { identifier: `${IDNPS_SYSTEM}|${claims.nationalId}`, _sort: '_id' }, 1);
    const existing = matches[0];
    let practitionerId: string;
    if (!existing) {
      const created = await tx.create('Practitioner', prepareWrite('Practitioner', newPractitioner(claims)));
      practitionerId = created.id as string;
    } else {
      practitionerId = existing.id as string;
      const renamed = withName(existing, claims);
      if (renamed) {
        await tx.update('Practitioner', practitionerId, prepareWrite('Practitioner', renamed, practitionerId));
      }
    }
    if (claims.profession) {
      await ensureRole(tx, practitionerId, claims.profession, claims.speciality);
    }
    return practitionerId;
  });
}

function newPractitioner(claims: ProfessionalClaims): Practitioner {
  const name = claims.familyName || claims.givenName ? [officialName(undefined, claims)] : undefined;
  return {
    resourceType: 'Practitioner',
    active: true,
    identifier: [
      {
        use: 'official',
        type: { coding: [{ system: FR_CORE_IDENTIFIER_TYPE_SYSTEM, code: IDENTIFIER_TYPE.IDNPS }] },
        system: IDNPS_SYSTEM,
        value: claims.nationalId,
      },
    ],
    ...(name ? { name } : {}),
  };
}

/** The Practitioner with the claims' name, or undefined when the name it has is the same. */
function withName(practitioner: Practitioner, claims: ProfessionalClaims): Practitioner | undefined {
  if (!claims.familyName && !claims.givenName) {
    return undefined;
  }
  const names = practitioner.name ?? [];
  const at = Math.max(0, names.findIndex((n) => n.use === 'official'));
  const current = names[at];
  const next = officialName(current, claims);
  if (current && current.family === next.family && (current.given ?? []).join(' ') === (next.given ?? []).join(' ')) {
    return undefined;
  }
  const updated = [...names];
  updated[at] = next;
  return { ...practitioner, name: updated };
}

function officialName(current: HumanName | undefined, claims: ProfessionalClaims): HumanName {
  const family = claims.familyName ?? current?.family;
  const given = claims.givenName ? [claims.givenName] : current?.given;
  return { ...(current ?? {}), use: current?.use ?? 'official', ...(family ? { family } : {}), ...(given ? { given } : {}) };
}

/** Reuses a PractitionerRole of the practitioner with the same profession and speciality, or creates one. */
async function ensureRole(tx: ResourceRepo, practitionerId: string, profession: string, speciality: string | undefined): Promise<void> {
  const { matches } = await internalSearch<PractitionerRole>(tx, 'PractitionerRole', { practitioner: `Practitioner/${practitionerId}` }, 1000);
  const same = matches.some(
    (role) =>
      role.active !== false &&
      parseReference(role.practitioner?.reference ?? '')?.id === practitionerId &&
      codesIn(role.code, PROFESSION_SYSTEM).join() === profession &&
      codesIn(role.specialty, SPECIALITY_SYSTEM).join() === (speciality ?? '')
  );
  if (same) {
    return;
  }
  const role: PractitionerRole = {
    resourceType: 'PractitionerRole',
    active: true,
    practitioner: { reference: `Practitioner/${practitionerId}` },
    code: [{ coding: [{ system: PROFESSION_SYSTEM, code: profession }] }],
    ...(speciality ? { specialty: [{ coding: [{ system: SPECIALITY_SYSTEM, code: speciality }] }] } : {}),
  };
  await tx.create('PractitionerRole', prepareWrite('PractitionerRole', role));
}

async function findPatient(repo: ResourceRepo, ins: { system: string; value: string }): Promise<string> {
  const { matches } = await internalSearch<Patient>(repo, 'Patient', { identifier: `${ins.system}|${ins.value}` }, 2);
  if (matches.length === 0) {
    throw new IdentityError('unknown-patient', 'No patient record carries this INS');
  }
  if (matches.length > 1) {
    throw new IdentityError('ambiguous-patient', 'Several patient records carry this INS');
  }
  return matches[0].id as string;
}

interface PscExercice {
  codeProfession?: unknown;
  codeSavoirFaire?: unknown;
  prenomDexercice?: unknown;
  nomDexercice?: unknown;
  activities?: unknown;
}

interface PscActivity {
  identifiantTechniqueDeLaStructure?: unknown;
  numeroFinessSite?: unknown;
}

/** `SubjectRefPro` as an object (some providers send it as a JSON string). */
function refPro(value: unknown): { exercices?: unknown } | undefined {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value) as unknown;
    } catch {
      return undefined;
    }
  }
  return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as { exercices?: unknown }) : undefined;
}

function firstOf<T extends PscExercice | PscActivity>(list: unknown): T | undefined {
  const first: unknown = Array.isArray(list) ? list[0] : undefined;
  return first && typeof first === 'object' && !Array.isArray(first) ? (first as T) : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function code(value: unknown, claim: string): string | undefined {
  if (value === undefined || value === null || value === '') {
    return undefined;
  }
  if (typeof value !== 'string' || !CODE_RE.test(value)) {
    throw new IdentityError('invalid-claims', `The ${claim} claim is not a code`);
  }
  return value;
}

function codesIn(concepts: readonly CodeableConcept[] | undefined, system: string): string[] {
  return (concepts ?? []).flatMap((c) => c.coding ?? []).filter((c) => c.system === system && c.code).map((c) => c.code as string).sort();
}
