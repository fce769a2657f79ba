/**
 * The resources the benchmark writes: Patients and DocumentReferences that satisfy the server's
 * profiles (dmp-patient-ins, dmp-document-reference) and already declare them in meta.profile, as the
 * server's prepareWrite would. Deterministic: the same index gives the same body.
 */
import type { DocumentReference, Patient } from '@medplum/fhirtypes';
import {
  BIRTH_LIST_GIVEN_NAME_EXTENSION_URL,
  BIRTH_PLACE_EXTENSION_URL,
  FR_CORE_IDENTIFIER_TYPE_SYSTEM,
  IDENTIFIER_TYPE,
  IDENTITY_RELIABILITY_EXTENSION_URL,
  IDENTITY_STATUS,
  IDENTITY_STATUS_SYSTEM,
  INS_NIR_TEST_SYSTEM,
  INSEE_CODE_EXTENSION_URL,
  INSEE_COMMUNE_SYSTEM,
  LOINC_SYSTEM,
} from '../../src/dmp/identifiers.js';
import { makeTestIns } from '../../src/dmp/ins.js';
import { PROFILE_URLS } from '../../src/fhir/validate.js';

/** Identifier system of the per-request identifier the create scenario adds to each document. */
export const BENCH_IDENTIFIER_SYSTEM = 'urn:dmp-fhir-server:bench:document';

const CONSULTATION_NOTE = { code: '11488-4', display: 'CR ou fiche de consultation ou de visite' };
const FIRST_DOC_DATE = Date.UTC(2020, 0, 1);
const HOUR_MS = 3_600_000;

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/** The n-th fictitious patient: a valid test INS and the identity traits the profile requires. */
export function benchPatient(n: number): Patient {
  const sex = n % 2 === 0 ? 1 : 2;
  const yy = pad(40 + (n % 60), 2);
  const mm = pad(1 + (n % 12), 2);
  return {
    resourceType: 'Patient',
    meta: { profile: [PROFILE_URLS.Patient] },
    identifier: [
      {
        use: 'official',
        type: { coding: [{ system: FR_CORE_IDENTIFIER_TYPE_SYSTEM, code: IDENTIFIER_TYPE.INS_NIR_TEST }] },
        system: INS_NIR_TEST_SYSTEM,
        value: makeTestIns(sex, yy, mm, '75114', pad(n % 1000, 3)),
      },
    ],
    name: [{ use: 'official', family: `BENCH${pad(n, 6)}`, given: ['CAMILLE'], extension: [{ url: BIRTH_LIST_GIVEN_NAME_EXTENSION_URL, valueString: 'CAMILLE' }] }],
    extension: [
      { url: IDENTITY_RELIABILITY_EXTENSION_URL, extension: [{ url: 'identityStatus', valueCoding: { system: IDENTITY_STATUS_SYSTEM, code: IDENTITY_STATUS.QUAL } }] },
      { url: BIRTH_PLACE_EXTENSION_URL, valueAddress: { extension: [{ url: INSEE_CODE_EXTENSION_URL, valueCoding: { system: INSEE_COMMUNE_SYSTEM, code: '75114' } }] } },
    ],
    gender: sex === 1 ? 'male' : 'female',
    birthDate: `19${yy}-${mm}-15`,
  };
}

/**
 * The body of the create scenario: a consultation note of the focus patient whose identifier
 * autocannon makes unique per request (`[<id>]`, idReplacement). Feeding documents is the DMP's
 * everyday write; opening a DMP (one per INS) cannot be repeated with one body.
 */
export function documentCreateBody(patientId: string): string {
  const doc = benchDocumentReference(0, patientId);
  return JSON.stringify({ ...doc, identifier: [{ system: BENCH_IDENTIFIER_SYSTEM, value: '[<id>]' }] });
}

/** The n-th consultation note of a patient, one hour after the previous document. */
export function benchDocumentReference(n: number, patientId: string): DocumentReference {
  return {
    resourceType: 'DocumentReference',
    meta: { profile: [PROFILE_URLS.DocumentReference] },
    status: 'current',
    type: { coding: [{ system: LOINC_SYSTEM, ...CONSULTATION_NOTE }] },
    subject: { reference: `Patient/${patientId}` },
    date: new Date(FIRST_DOC_DATE + n * HOUR_MS).toISOString(),
    content: [{ attachment: { contentType: 'application/pdf', title: `Consultation ${n}` } }],
  };
}

/** What the baseline endpoint returns: a fixed object about the size of a stored Patient. */
export function baselinePayload(): Patient {
  return {
    ...benchPatient(0),
    id: '0b5e3a2c-5d8e-4f7a-9c1b-2d3e4f5a6b7c',
    meta: { versionId: '1', lastUpdated: '2024-01-01T00:00:00.000Z', profile: [PROFILE_URLS.Patient] },
  };
}
