import { expect } from 'chai';
import type { Consent, DocumentReference, List, OperationOutcome, Organization, Practitioner, PractitionerRole } from '@medplum/fhirtypes';
import { CATALOGUE, ERROR_CODE_SYSTEM, type ErrorKind } from '../../src/fhir/outcomes.js';
import { unique } from './fhir.js';

/** Identifier system for test data created by the CRUD / negotiation / error tests. */
export const CRUD_TEST_SYSTEM = 'urn:test:crud';

/** A valid Practitioner with a unique identifier and family name. */
export function testPractitioner(value = unique('prac')): Practitioner {
  return { resourceType: 'Practitioner', identifier: [{ system: CRUD_TEST_SYSTEM, value }], name: [{ family: unique('Doc'), given: ['Paul'] }] };
}

/** A valid Organization with a unique identifier and name. */
export function testOrganization(value = unique('org')): Organization {
  return { resourceType: 'Organization', identifier: [{ system: CRUD_TEST_SYSTEM, value }], name: unique('Clinique ') };
}

/** A PractitionerRole linking a practitioner and an organization. */
export function testPractitionerRole(practitionerId: string, organizationId: string): PractitionerRole {
  return {
    resourceType: 'PractitionerRole',
    identifier: [{ system: CRUD_TEST_SYSTEM, value: unique('role') }],
    practitioner: { reference: `Practitioner/${practitionerId}` },
    organization: { reference: `Organization/${organizationId}` },
  };
}

/** A DocumentReference satisfying dmp-document-reference (subject, type, attachment content type). */
export function testDocumentReference(patientId: string): DocumentReference {
  return {
    resourceType: 'DocumentReference',
    identifier: [{ system: CRUD_TEST_SYSTEM, value: unique('doc') }],
    status: 'current',
    type: { coding: [{ system: 'http://loinc.org', code: '11488-4', display: 'Consult note' }] },
    subject: { reference: `Patient/${patientId}` },
    content: [{ attachment: { contentType: 'application/pdf', title: 'note.pdf' } }],
  };
}

/** A List about a patient. */
export function testList(patientId: string): List {
  return {
    resourceType: 'List',
    identifier: [{ system: CRUD_TEST_SYSTEM, value: unique('list') }],
    status: 'current',
    mode: 'working',
    subject: { reference: `Patient/${patientId}` },
  };
}

/** A Consent satisfying dmp-consent and R4 ppc-1 (policyRule). */
export function testConsent(patientId: string): Consent {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: `Patient/${patientId}` },
    dateTime: '2024-03-01T10:00:00Z',
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
    provision: { type: 'permit' },
  };
}

/** The error fhir-kit-client throws on a non-2xx answer. */
interface ClientError {
  response?: { status: number; data: unknown };
}

/** Awaits a fhir-kit-client call that must fail; checks status, OperationOutcome and catalogue code. */
export async function expectClientError(call: Promise<unknown>, status: number, kind?: ErrorKind): Promise<OperationOutcome> {
  let error: ClientError | undefined;
  try {
    await call;
  } catch (err) {
    error = err as ClientError;
  }
  expect(error, 'the request should have failed').to.not.equal(undefined);
  expect(error?.response?.status, JSON.stringify(error?.response?.data)).to.equal(status);
  const outcome = error?.response?.data as OperationOutcome;
  expect(outcome.resourceType).to.equal('OperationOutcome');
  if (kind) {
    const codes = outcome.issue.flatMap((i) => i.details?.coding ?? []).filter((c) => c.system === ERROR_CODE_SYSTEM).map((c) => c.code);
    expect(codes, JSON.stringify(outcome)).to.include(CATALOGUE[kind].id);
  }
  return outcome;
}
