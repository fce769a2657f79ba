import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Client, type FhirResource } from 'fhir-kit-client';
import type { Extension, HumanName, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { CATALOGUE, ERROR_CODE_SYSTEM, type ErrorKind } from '../../src/fhir/outcomes.js';
import { computeInsKey } from '../../src/dmp/ins.js';
import {
  BIRTH_LIST_GIVEN_NAME_EXTENSION_URL,
  BIRTH_PLACE_EXTENSION_URL,
  IDENTITY_METHOD_COLLECTION_SYSTEM,
  IDENTITY_RELIABILITY_EXTENSION_URL,
  IDENTITY_STATUS_SYSTEM,
  INS_NIR_TEST_SYSTEM,
  INSEE_CODE_EXTENSION_URL,
  INSEE_COMMUNE_SYSTEM,
} from '../../src/dmp/identifiers.js';
import { getTestServer, systemToken } from './server.js';

export const FHIR_JSON = 'application/fhir+json';

/** A fhir-kit-client bound to the test server (a real client no one here wrote). */
export async function fhirClient(): Promise<Client> {
  const { fhirBase } = await getTestServer();
  return new Client({ baseUrl: fhirBase, bearerToken: await systemToken() });
}

/** Types a resource for fhir-kit-client, whose FhirResource type is an open record. */
export function asBody<T extends object>(resource: T): FhirResource {
  return resource as unknown as FhirResource;
}

/**
 * fetch() against the FHIR base: path relative to /fhir, with the test backend's bearer token
 * unless the request sets its own Authorization (or `anonymous`).
 */
export async function fhirFetch(path: string, init: RequestInit & { anonymous?: boolean } = {}): Promise<Response> {
  const { fhirBase } = await getTestServer();
  const headers = new Headers(init.headers);
  if (!headers.has('authorization') && !init.anonymous) {
    headers.set('authorization', `Bearer ${await systemToken()}`);
  }
  if (!headers.has('accept')) {
    headers.set('accept', FHIR_JSON);
  }
  if (init.body !== undefined && typeof init.body === 'string' && !headers.has('content-type')) {
    headers.set('content-type', FHIR_JSON);
  }
  return fetch(`${fhirBase}/${path.replace(/^\//, '')}`, { ...init, headers });
}

/** Asserts an OperationOutcome error response: status, and the stable catalogue code when given. */
export async function expectOutcome(res: Response, status: number, kind?: ErrorKind): Promise<OperationOutcome> {
  const text = await res.text();
  expect(res.status, text).to.equal(status);
  expect(res.headers.get('content-type') ?? '').to.contain('application/fhir+json');
  const outcome = JSON.parse(text) as OperationOutcome;
  expect(outcome.resourceType).to.equal('OperationOutcome');
  expect(outcome.issue.length).to.be.greaterThan(0);
  if (kind) {
    const codes = outcome.issue.flatMap((i) => i.details?.coding ?? []).filter((c) => c.system === ERROR_CODE_SYSTEM).map((c) => c.code);
    expect(codes, text).to.include(CATALOGUE[kind].id);
  }
  return outcome;
}

/** A random but valid test INS (NIR test system), unique enough for one test run. */
export function randomTestIns(): string {
  const digits = (n: number): string => Array.from({ length: n }, () => Math.floor(Math.random() * 10)).join('');
  const sex = Math.random() < 0.5 ? '1' : '2';
  const first13 = `${sex}${digits(2)}${String(1 + Math.floor(Math.random() * 12)).padStart(2, '0')}${digits(8)}`;
  return first13 + computeInsKey(first13);
}

/** A unique string for test data (names, identifiers), so tests never see each other's rows. */
export function unique(prefix = 't'): string {
  return `${prefix}${randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

/** A Patient that satisfies the server's DMP rules: valid test INS, qualified identity (QUAL), INS traits. */
export function testPatient(overrides: Partial<Patient> = {}): Patient {
  return {
    resourceType: 'Patient',
    extension: [qualifiedIdentity(), birthPlace('75114')],
    identifier: [{ system: INS_NIR_TEST_SYSTEM, value: randomTestIns() }],
    name: [officialName(unique('Fam'), ['Jeanne'])],
    gender: 'female',
    birthDate: '1980-04-12',
    ...overrides,
  };
}

/** The official (birth) name of the INS traits, with the list of birth given names. */
export function officialName(family: string, given: string[]): HumanName {
  return { use: 'official', family, given: [given[0]], extension: [{ url: BIRTH_LIST_GIVEN_NAME_EXTENSION_URL, valueString: given.join(' ') }] };
}

/** FR Core identity reliability: `status` (QUAL unless asked), collected through INSi. */
export function qualifiedIdentity(status = 'QUAL'): Extension {
  return {
    url: IDENTITY_RELIABILITY_EXTENSION_URL,
    extension: [
      { url: 'identityStatus', valueCoding: { system: IDENTITY_STATUS_SYSTEM, code: status } },
      { url: 'methodCollection', valueCoding: { system: IDENTITY_METHOD_COLLECTION_SYSTEM, code: 'INSI' } },
    ],
  };
}

/** The birth place trait: an INSEE commune code on the standard birthPlace extension. */
export function birthPlace(insee: string): Extension {
  return { url: BIRTH_PLACE_EXTENSION_URL, valueAddress: { extension: [{ url: INSEE_CODE_EXTENSION_URL, valueCoding: { system: INSEE_COMMUNE_SYSTEM, code: insee } }] } };
}
