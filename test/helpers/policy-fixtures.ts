/**
 * Principals, patient facts and documents for the pure policy tests (test/unit/policy-*.test.ts).
 * Everything is fictitious; ids are plain strings as the caller of `decide` would resolve them.
 */
import type { DocumentFacts, PatientFacts, PolicyOptions } from '../../src/policy/decide.js';
import { loadMatrix } from '../../src/policy/habilitation-matrix.js';
import type { AccessMode, Principal, ProfessionalIdentity, TokenContext } from '../../src/policy/principal.js';
import { DOC_TYPE_COMPLEMENTARY_SYSTEM, LOINC_SYSTEM } from '../../src/dmp/identifiers.js';

export const MATRIX = loadMatrix();
export const NOW = new Date('2025-06-01T12:00:00.000Z');
export const OPTIONS: PolicyOptions = { now: NOW, matrix: MATRIX, invisiblePatientDelayDays: 30 };

export const PATIENT_ID = 'pat-minor-or-holder';
export const DAY_MS = 86_400_000;

export function token(accessMode: AccessMode = 'normal', overrides: Partial<TokenContext> = {}): TokenContext {
  return { clientId: 'test-app', scope: 'user/*.cruds', scopes: [], accessMode, jti: 'jti-1', ...overrides };
}

/** A practitioner principal; `mode` is the token's access mode. */
export function professional(identity: Partial<ProfessionalIdentity> & { practitionerId: string }, mode: AccessMode = 'normal'): Principal {
  return {
    kind: 'practitioner',
    professional: { nationalId: `8${identity.practitionerId}`, regulator: false, ...identity },
    token: token(mode),
  };
}

export const doctor = (mode: AccessMode = 'normal', extra: Partial<ProfessionalIdentity> = {}): Principal =>
  professional({ practitionerId: 'pr-doctor', profession: '10', speciality: 'SM54', structure: 'st-doctor', ...extra }, mode);
export const nurse = (mode: AccessMode = 'normal', extra: Partial<ProfessionalIdentity> = {}): Principal =>
  professional({ practitionerId: 'pr-nurse', profession: '60', structure: 'st-nurse', ...extra }, mode);
export const dentist = (mode: AccessMode = 'normal'): Principal =>
  professional({ practitionerId: 'pr-dentist', profession: '40', speciality: 'SCD01', structure: 'st-dentist' }, mode);
export const pharmacist = (mode: AccessMode = 'normal'): Principal =>
  professional({ practitionerId: 'pr-pharmacist', profession: '21', structure: 'st-pharmacy' }, mode);
export const midwife = (mode: AccessMode = 'normal'): Principal =>
  professional({ practitionerId: 'pr-midwife', profession: '50', structure: 'st-hospital' }, mode);
export const regulator = (mode: AccessMode = 'centre_15'): Principal =>
  professional({ practitionerId: 'pr-regulator', profession: '10', speciality: 'SM54', structure: 'st-samu', regulator: true }, mode);

/** The holder of the DMP, or another patient user. */
export function patientUser(patientId = PATIENT_ID, fhirUser?: string): Principal {
  return { kind: 'patient', patientId, token: token('normal', { patientId: PATIENT_ID, ...(fhirUser ? { fhirUser } : {}) }) };
}

/** A parent logged in as themselves (their own Patient), acting on the minor's DMP. */
export const representative = (): Principal => patientUser('pat-parent', 'Patient/pat-parent');

/** The insurer's Backend Services client (`dmp_role: insurer`). */
export const systemClient: Principal = { kind: 'system', role: 'insurer', token: token('normal', { clientId: 'insurer-backend', scope: 'system/*.cruds' }) };
/** A Backend Services client registered without a DMP role. */
export const roleLessSystemClient: Principal = { kind: 'system', token: token('normal', { clientId: 'some-backend', scope: 'system/*.cruds' }) };
export const internal: Principal = { kind: 'internal' };
export const anonymous: Principal = { kind: 'anonymous' };

/** Facts of an open DMP where nobody is authorised, blocked, opposed or médecin traitant. */
export function facts(overrides: Partial<PatientFacts> = {}): PatientFacts {
  return {
    patientId: PATIENT_ID,
    closed: false,
    authorised: { practitionerIds: [], organizationIds: [] },
    blocked: { practitionerIds: [], organizationIds: [] },
    emergencyOpposition: { brisDeGlace: false, centre15: false },
    medecinTraitantIds: [],
    extendedRightsIds: [],
    legalRepresentativeIds: ['pat-parent'],
    isMinor: true,
    ...overrides,
  };
}

/** Facts where these practitioners are authorised (Consent permit, TREAT, in period). */
export function authorising(...practitionerIds: string[]): PatientFacts {
  return facts({ authorised: { practitionerIds, organizationIds: [] } });
}

/** A LOINC-typed document (default: a consultation report by someone else, deposited long ago). */
export function doc(overrides: Partial<DocumentFacts> = {}): DocumentFacts {
  return {
    typeCode: '11488-4',
    typeSystem: LOINC_SYSTEM,
    classCode: '10',
    labels: [],
    authorPractitionerIds: ['pr-someone-else'],
    depositedByPatient: false,
    deposited: '2024-01-15T10:05:00.000Z',
    ...overrides,
  };
}

/** A TRE_A05-typed document (REMB, DOCPATxx, ATTEST-RESID...). */
export function a05Doc(typeCode: string, overrides: Partial<DocumentFacts> = {}): DocumentFacts {
  return doc({ typeCode, typeSystem: DOC_TYPE_COMPLEMENTARY_SYSTEM, classCode: undefined, ...overrides });
}

/** ISO instant `days` days before NOW (plus `ms` milliseconds). */
export function daysAgo(days: number, ms = 0): string {
  return new Date(NOW.getTime() - days * DAY_MS + ms).toISOString();
}
