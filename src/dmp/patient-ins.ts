/**
 * What makes a Patient a DMP the server may hold (issue 5; dmp-domain.md §1): an INS matricule that
 * passes its key check, a qualified identity (RNIV status QUAL) and the INS identity traits, as FR
 * Core's `fr-core-patient-ins` models them. Pure functions returning OperationOutcome issues, each
 * pointing at the element to fix; the write path turns them into 422 answers.
 */
import type { Extension, HumanName, Identifier, OperationOutcomeIssue, Patient } from '@medplum/fhirtypes';
import {
  BIRTH_LIST_GIVEN_NAME_EXTENSION_URL,
  BIRTH_PLACE_EXTENSION_URL,
  IDENTITY_RELIABILITY_EXTENSION_URL,
  IDENTITY_STATUS,
  IDENTITY_STATUS_SYSTEM,
  INS_SYSTEMS,
  INSEE_CODE_EXTENSION_URL,
} from './identifiers.js';
import { isInsSystem, validateIns } from './ins.js';

const issue = (text: string, expression: string, code: OperationOutcomeIssue['code'] = 'business-rule'): OperationOutcomeIssue => ({
  severity: 'error',
  code,
  details: { text },
  expression: [expression],
});

/**
 * The INS identifiers of a Patient must be valid matricules (15 characters, Corsica 2A/2B rule,
 * key = 97 − (N mod 97)): one issue per invalid one, pointing at its value.
 */
export function insIssues(patient: Patient): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  (patient.identifier ?? []).forEach((identifier, i) => {
    if (!identifier.system || !isInsSystem(identifier.system) || identifier.value === undefined) {
      return;
    }
    const result = validateIns(identifier.value);
    if (!result.ok) {
      issues.push(issue(`Invalid INS (${identifier.system}): ${result.message}`, `Patient.identifier[${i}].value`));
    }
  });
  return issues;
}

/** The INS identifiers that key the DMP: INS systems, with a value, not marked `old` (a deactivated INS). */
export function activeInsIdentifiers(patient: Patient): Identifier[] {
  return (patient.identifier ?? []).filter((id) => id.system !== undefined && isInsSystem(id.system) && id.value !== undefined && id.use !== 'old');
}

/** A DMP is keyed by an INS: at least one active INS identifier. */
export function missingInsIssues(patient: Patient): OperationOutcomeIssue[] {
  if (activeInsIdentifiers(patient).length > 0) {
    return [];
  }
  return [
    issue(
      `A DMP is keyed by the patient's INS: add an identifier whose system is one of ${INS_SYSTEMS.join(', ')} (NIR, NIA, test NIR, demo NIR) with the 15-character matricule, not marked use=old`,
      'Patient.identifier',
      'required'
    ),
  ];
}

/** The RNIV identity status carried by the FR Core identity reliability extension(s), if any. */
export function identityStatusOf(patient: Patient): string | undefined {
  for (const ext of patient.extension ?? []) {
    if (ext.url !== IDENTITY_RELIABILITY_EXTENSION_URL) continue;
    const status = ext.extension?.find((e) => e.url === 'identityStatus')?.valueCoding;
    if (status?.code && (status.system === undefined || status.system === IDENTITY_STATUS_SYSTEM)) {
      return status.code;
    }
  }
  return undefined;
}

/** Only a qualified identity (INS retrieved from INSi and checked against an identity document) opens a DMP. */
export function qualifiedIdentityIssues(patient: Patient): OperationOutcomeIssue[] {
  const status = identityStatusOf(patient);
  if (status === IDENTITY_STATUS.QUAL) {
    return [];
  }
  const index = (patient.extension ?? []).findIndex((e) => e.url === IDENTITY_RELIABILITY_EXTENSION_URL);
  return [
    issue(
      status === undefined
        ? `Only a qualified identity opens a DMP: add the identity reliability extension (${IDENTITY_RELIABILITY_EXTENSION_URL}) with identityStatus ${IDENTITY_STATUS_SYSTEM}#QUAL`
        : `Only a qualified identity (QUAL) opens a DMP; this identity is ${status}: retrieve the INS from INSi and check an identity document first`,
      index >= 0 ? `Patient.extension[${index}]` : 'Patient.extension'
    ),
  ];
}

/**
 * The INS identity traits (dmp-domain.md §1.3): birth family name and first given name on the
 * official name, the list of birth given names, sex, birth date and the INSEE code of the birth place.
 */
export function insTraitIssues(patient: Patient): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const officialIndex = (patient.name ?? []).findIndex((n) => n.use === 'official');
  const official: HumanName | undefined = officialIndex >= 0 ? patient.name?.[officialIndex] : undefined;
  const at = `Patient.name[${officialIndex}]`;
  if (!official) {
    issues.push(issue('INS traits: the birth name goes in a name with use "official" (family = birth family name, given = first birth given name)', 'Patient.name', 'required'));
  } else {
    if (!official.family?.trim()) issues.push(issue('INS traits: the official name needs the birth family name (family)', `${at}.family`, 'required'));
    if (!official.given?.[0]?.trim()) issues.push(issue('INS traits: the official name needs the first birth given name (given[0])', `${at}.given`, 'required'));
    if (!hasValue(official.extension, BIRTH_LIST_GIVEN_NAME_EXTENSION_URL, (e) => e.valueString)) {
      issues.push(issue(`INS traits: the official name needs the list of birth given names (extension ${BIRTH_LIST_GIVEN_NAME_EXTENSION_URL}, valueString)`, `${at}.extension`, 'required'));
    }
  }
  if (!patient.gender) issues.push(issue('INS traits: sex (gender) is required', 'Patient.gender', 'required'));
  if (!patient.birthDate) issues.push(issue('INS traits: the birth date is required', 'Patient.birthDate', 'required'));
  const place = patient.extension?.find((e) => e.url === BIRTH_PLACE_EXTENSION_URL)?.valueAddress;
  const insee = place?.extension?.find((e) => e.url === INSEE_CODE_EXTENSION_URL)?.valueCoding?.code;
  if (!insee || !/^[0-9AB]{5}$/.test(insee)) {
    issues.push(
      issue(
        `INS traits: the birth place needs its 5-character INSEE code (extension ${BIRTH_PLACE_EXTENSION_URL} whose valueAddress carries ${INSEE_CODE_EXTENSION_URL}; born abroad: 99 + country code)`,
        'Patient.extension',
        'required'
      )
    );
  }
  return issues;
}

function hasValue(extensions: Extension[] | undefined, url: string, value: (e: Extension) => string | undefined): boolean {
  return (extensions ?? []).some((e) => e.url === url && (value(e) ?? '').trim() !== '');
}

/** `system|value` keys of the active INS identifiers (what "one DMP per INS" is about). */
export function insKeys(patient: Patient): string[] {
  return activeInsIdentifiers(patient).map((id) => `${id.system}|${id.value}`);
}
