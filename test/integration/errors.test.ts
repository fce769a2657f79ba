import { expect } from 'chai';
import type { Bundle, OperationOutcome, Patient } from '@medplum/fhirtypes';
import type { ErrorKind } from '../../src/fhir/outcomes.js';
import { asBody, expectOutcome, fhirClient, fhirFetch, testPatient, unique } from '../helpers/fhir.js';
import { expectClientError, testConsent, testDocumentReference, testOrganization } from '../helpers/resources.js';
import { getTestServer } from '../helpers/server.js';

const TWO_MIB = 2 * 1024 * 1024;

/** How many Patients carry this test INS (refused writes carry it, so 0 proves nothing was stored). */
async function countByIdentifier(patient: Patient): Promise<number> {
  const identifier = patient.identifier?.[0];
  const res = await fhirFetch(`Patient?identifier=${encodeURIComponent(`${identifier?.system}|${identifier?.value}`)}&_summary=count`);
  expect(res.status).to.equal(200);
  return ((await res.json()) as Bundle).total as number;
}

/** The expressions of all issues of an OperationOutcome. */
function expressionsOf(outcome: OperationOutcome): string[] {
  return outcome.issue.flatMap((i) => i.expression ?? []);
}

describe('errors: request bodies', () => {
  it('when the body is malformed JSON, then 400 MALFORMED_BODY and nothing is written', async () => {
    const patient = testPatient();
    const text = JSON.stringify(patient).slice(0, -1);
    await expectOutcome(await fhirFetch('Patient', { method: 'POST', body: text }), 400, 'MALFORMED_BODY');
    expect(await countByIdentifier(patient)).to.equal(0);
  });

  it('when an update body is malformed JSON, then 400 MALFORMED_BODY and the stored resource is unchanged', async () => {
    const client = await fhirClient();
    const patient = (await client.create({ resourceType: 'Patient', body: asBody(testPatient()) })) as unknown as Patient & { id: string };
    const res = await fhirFetch(`Patient/${patient.id}`, { method: 'PUT', body: `{"resourceType":"Patient","id":"${patient.id}",` });
    await expectOutcome(res, 400, 'MALFORMED_BODY');
    const read = (await client.read({ resourceType: 'Patient', id: patient.id })) as unknown as Patient;
    expect(read.meta?.versionId).to.equal('1');
  });

  for (const [what, body] of [
    ['a JSON array', '[]'],
    ['a JSON string', '"Patient"'],
    ['empty', ''],
  ] as const) {
    it(`when the body is ${what}, then 400 MALFORMED_BODY`, async () => {
      await expectOutcome(await fhirFetch('Patient', { method: 'POST', body }), 400, 'MALFORMED_BODY');
    });
  }

  it('when the body is over the 2 MiB limit, then 413 BODY_TOO_LARGE and nothing is written', async () => {
    const { config } = await getTestServer();
    expect(config.maxBodyBytes).to.equal(TWO_MIB);
    const patient = testPatient({
      text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(TWO_MIB)}</div>` },
    });
    await expectOutcome(await fhirFetch('Patient', { method: 'POST', body: JSON.stringify(patient) }), 413, 'BODY_TOO_LARGE');
    expect(await countByIdentifier(patient)).to.equal(0);
  });

  it('when a body just under the limit is sent, then it is not refused for its size', async () => {
    const patient = testPatient({
      text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(600 * 1024)}</div>` },
    });
    const res = await fhirFetch('Patient', { method: 'POST', headers: { prefer: 'return=minimal' }, body: JSON.stringify(patient) });
    expect(res.status, await res.clone().text()).to.equal(201);
  });
});

describe('errors: base R4 validation (400 INVALID_RESOURCE)', () => {
  const cases: { what: string; type: string; body: () => object; expression: string }[] = [
    { what: 'an unknown property', type: 'Patient', body: () => ({ ...testPatient(), favouriteColour: 'blue' }), expression: 'Patient.favouriteColour' },
    { what: 'a string where a boolean is expected', type: 'Patient', body: () => ({ ...testPatient(), active: 'yes' }), expression: 'Patient.active' },
    { what: 'a number where a string is expected, nested', type: 'Patient', body: () => ({ ...testPatient(), name: [{ family: 42 }] }), expression: 'Patient.name[0].family' },
    { what: 'a badly formatted date', type: 'Patient', body: () => ({ ...testPatient(), birthDate: '12/04/1980' }), expression: 'Patient.birthDate' },
    { what: 'a number for Organization.name', type: 'Organization', body: () => ({ ...testOrganization(), name: 42 }), expression: 'Organization.name' },
  ];
  for (const { what, type, body, expression } of cases) {
    it(`when a ${type} has ${what}, then 400 INVALID_RESOURCE with expression ${expression}`, async () => {
      const resource = body();
      const outcome = await expectOutcome(await fhirFetch(type, { method: 'POST', body: JSON.stringify(resource) }), 400, 'INVALID_RESOURCE');
      expect(expressionsOf(outcome)).to.include(expression);
    });
  }

  it('when an invalid Patient is refused, then nothing is written', async () => {
    const patient = { ...testPatient(), active: 'yes' } as unknown as Patient;
    await expectOutcome(await fhirFetch('Patient', { method: 'POST', body: JSON.stringify(patient) }), 400, 'INVALID_RESOURCE');
    expect(await countByIdentifier(patient)).to.equal(0);
  });

  it('when a Consent has neither policy nor policyRule (R4 ppc-1), then 400 INVALID_RESOURCE', async () => {
    const { policyRule: _p, ...consent } = testConsent(unique('p'));
    await expectOutcome(await fhirFetch('Consent', { method: 'POST', body: JSON.stringify(consent) }), 400, 'INVALID_RESOURCE');
  });

  it('when fhir-kit-client sends an invalid resource, then it sees 400 INVALID_RESOURCE', async () => {
    const client = await fhirClient();
    const outcome = await expectClientError(client.create({ resourceType: 'Patient', body: asBody({ ...testPatient(), foo: 1 }) }), 400, 'INVALID_RESOURCE');
    expect(expressionsOf(outcome)).to.include('Patient.foo');
  });
});

describe('errors: profile validation (422 PROFILE_VIOLATION)', () => {
  it('when a Patient has no birthDate, then 422 PROFILE_VIOLATION with expression Patient.birthDate and nothing is written', async () => {
    const { birthDate: _b, ...patient } = testPatient();
    const outcome = await expectOutcome(await fhirFetch('Patient', { method: 'POST', body: JSON.stringify(patient) }), 422, 'PROFILE_VIOLATION');
    expect(expressionsOf(outcome)).to.deep.equal(['Patient.birthDate']);
    expect(await countByIdentifier(patient as Patient)).to.equal(0);
  });

  it('when a Patient update drops the birthDate, then 422 and the stored version is unchanged', async () => {
    const client = await fhirClient();
    const created = (await client.create({ resourceType: 'Patient', body: asBody(testPatient()) })) as unknown as Patient & { id: string };
    const { birthDate: _b, ...withoutBirthDate } = created;
    const outcome = await expectOutcome(await fhirFetch(`Patient/${created.id}`, { method: 'PUT', body: JSON.stringify(withoutBirthDate) }), 422, 'PROFILE_VIOLATION');
    expect(expressionsOf(outcome)).to.include('Patient.birthDate');
    const read = (await client.read({ resourceType: 'Patient', id: created.id })) as unknown as Patient;
    expect(read.meta?.versionId).to.equal('1');
    expect(read.birthDate).to.equal(created.birthDate);
  });

  it('when a DocumentReference has no type, then 422 with expression DocumentReference.type', async () => {
    const { type: _t, ...doc } = testDocumentReference(unique('p'));
    const outcome = await expectOutcome(await fhirFetch('DocumentReference', { method: 'POST', body: JSON.stringify(doc) }), 422, 'PROFILE_VIOLATION');
    expect(expressionsOf(outcome)).to.include('DocumentReference.type');
  });

  it('when a Patient misses two required elements, then one issue per element', async () => {
    const { birthDate: _b, gender: _g, ...patient } = testPatient();
    const outcome = await expectOutcome(await fhirFetch('Patient', { method: 'POST', body: JSON.stringify(patient) }), 422, 'PROFILE_VIOLATION');
    expect(expressionsOf(outcome)).to.include.members(['Patient.birthDate', 'Patient.gender']);
  });
});

describe('errors: $validate', () => {
  it('when a valid Patient is validated, then 200 with an OperationOutcome and nothing is stored', async () => {
    const patient = testPatient();
    const res = await fhirFetch('Patient/$validate', { method: 'POST', body: JSON.stringify(patient) });
    expect(res.status).to.equal(200);
    const outcome = (await res.json()) as OperationOutcome;
    expect(outcome.resourceType).to.equal('OperationOutcome');
    expect(outcome.issue.every((i) => i.severity === 'information' || i.severity === 'warning')).to.equal(true);
    expect(await countByIdentifier(patient)).to.equal(0);
  });

  it('when a valid Patient is validated through fhir-kit-client, then the operation answers an OperationOutcome', async () => {
    const client = await fhirClient();
    const outcome = (await client.operation({ name: '$validate', resourceType: 'Patient', input: asBody(testPatient()) })) as unknown as OperationOutcome;
    expect(outcome.resourceType).to.equal('OperationOutcome');
  });

  it('when a Patient without birthDate is validated, then the same 422 as a write, and nothing is stored', async () => {
    const { birthDate: _b, ...patient } = testPatient();
    const validate = await expectOutcome(await fhirFetch('Patient/$validate', { method: 'POST', body: JSON.stringify(patient) }), 422, 'PROFILE_VIOLATION');
    const write = await expectOutcome(await fhirFetch('Patient', { method: 'POST', body: JSON.stringify(patient) }), 422, 'PROFILE_VIOLATION');
    expect(validate.issue).to.deep.equal(write.issue);
    expect(await countByIdentifier(patient as Patient)).to.equal(0);
  });

  it('when a Patient with an unknown property is validated, then the same 400 as a write', async () => {
    const patient = { ...testPatient(), foo: 'bar' };
    const validate = await expectOutcome(await fhirFetch('Patient/$validate', { method: 'POST', body: JSON.stringify(patient) }), 400, 'INVALID_RESOURCE');
    const write = await expectOutcome(await fhirFetch('Patient', { method: 'POST', body: JSON.stringify(patient) }), 400, 'INVALID_RESOURCE');
    expect(validate.issue).to.deep.equal(write.issue);
  });

  it('when the resource is passed in a Parameters body, then it is validated the same way', async () => {
    const { birthDate: _b, ...patient } = testPatient();
    const parameters = { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: patient }] };
    const outcome = await expectOutcome(await fhirFetch('Patient/$validate', { method: 'POST', body: JSON.stringify(parameters) }), 422, 'PROFILE_VIOLATION');
    expect(expressionsOf(outcome)).to.include('Patient.birthDate');
  });

  it('when a resource of another type is validated against Patient, then 400 WRONG_RESOURCE_TYPE', async () => {
    await expectOutcome(await fhirFetch('Patient/$validate', { method: 'POST', body: JSON.stringify(testOrganization()) }), 400, 'WRONG_RESOURCE_TYPE');
  });
});

describe('errors: routes and methods', () => {
  it('when a path under /fhir matches no interaction, then 404 UNKNOWN_ROUTE', async () => {
    await expectOutcome(await fhirFetch(`Patient/${unique('x')}/something/else`), 404, 'UNKNOWN_ROUTE');
  });

  it('when a path outside /fhir is asked, then 404 UNKNOWN_ROUTE as an OperationOutcome', async () => {
    const { baseUrl } = await getTestServer();
    await expectOutcome(await fetch(`${baseUrl}/${unique('nowhere')}`), 404, 'UNKNOWN_ROUTE');
  });

  it('when an unknown resource type is searched or created, then 404 UNKNOWN_TYPE', async () => {
    await expectOutcome(await fhirFetch('Observation?code=1234-5'), 404, 'UNKNOWN_TYPE');
    await expectOutcome(await fhirFetch('Observation', { method: 'POST', body: JSON.stringify({ resourceType: 'Observation' }) }), 404, 'UNKNOWN_TYPE');
  });

  it('when PATCH is sent with a FHIR JSON body, then 405 METHOD_NOT_ALLOWED', async () => {
    const res = await fhirFetch(`Patient/${unique('x')}`, { method: 'PATCH', body: JSON.stringify({ resourceType: 'Patient' }) });
    await expectOutcome(res, 405, 'METHOD_NOT_ALLOWED');
  });

  it('when PATCH is sent with a JSON Patch body, then 405 METHOD_NOT_ALLOWED (the method is refused, not the body)', async () => {
    const client = await fhirClient();
    const patient = (await client.create({ resourceType: 'Patient', body: asBody(testPatient()) })) as unknown as Patient & { id: string };
    const res = await fhirFetch(`Patient/${patient.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json-patch+json' },
      body: JSON.stringify([{ op: 'replace', path: '/gender', value: 'male' }]),
    });
    await expectOutcome(res, 405, 'METHOD_NOT_ALLOWED');
    const read = (await client.read({ resourceType: 'Patient', id: patient.id })) as unknown as Patient;
    expect(read.gender).to.equal('female');
  });

  const notAllowed: [string, string][] = [
    ['DELETE', 'Patient'],
    ['PUT', 'Patient'],
    ['DELETE', 'metadata'],
    ['PUT', 'Patient/abc/_history/1'],
  ];
  for (const [method, path] of notAllowed) {
    it(`when ${method} /fhir/${path} is sent, then 405 METHOD_NOT_ALLOWED`, async () => {
      const body = method === 'PUT' ? JSON.stringify(testPatient()) : undefined;
      await expectOutcome(await fhirFetch(path, { method, body }), 405, 'METHOD_NOT_ALLOWED');
    });
  }
});

describe('errors: every error is an OperationOutcome with a stable code', () => {
  const cases: { what: string; kind: ErrorKind; status: number; request: () => Promise<Response> }[] = [
    { what: 'unknown id', kind: 'NOT_FOUND', status: 404, request: () => fhirFetch(`Practitioner/${unique('x')}`) },
    { what: 'unknown type', kind: 'UNKNOWN_TYPE', status: 404, request: () => fhirFetch('Medication') },
    { what: 'malformed JSON', kind: 'MALFORMED_BODY', status: 400, request: () => fhirFetch('Organization', { method: 'POST', body: '{' }) },
    { what: 'unknown search parameter', kind: 'UNKNOWN_SEARCH_PARAM', status: 400, request: () => fhirFetch('Organization?shoe-size=42') },
    { what: 'Turtle asked', kind: 'NOT_ACCEPTABLE', status: 406, request: () => fhirFetch('Organization?_format=ttl') },
  ];
  for (const { what, kind, status, request } of cases) {
    it(`when the error is "${what}", then ${status} OperationOutcome with code ${kind}, a text and no version ETag`, async () => {
      const res = await request();
      expect(res.headers.get('etag'), 'an error is not a resource version').to.equal(null);
      const outcome = await expectOutcome(res, status, kind);
      expect(outcome.issue[0].severity).to.equal('error');
      expect(outcome.issue[0].details?.text).to.be.a('string').and.not.equal('');
    });
  }
});
