import { expect } from 'chai';
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { asBody, expectOutcome, fhirClient, fhirFetch, testPatient } from '../helpers/fhir.js';
import { rawRequest } from '../helpers/raw-http.js';
import { testOrganization } from '../helpers/resources.js';

/** Creates a Patient through fhir-kit-client; returns it with its id. */
async function createPatient(patient: Patient = testPatient()): Promise<Patient & { id: string }> {
  const client = await fhirClient();
  return (await client.create({ resourceType: 'Patient', body: asBody(patient) })) as unknown as Patient & { id: string };
}

/** How many Patients carry this test INS (the body of a refused write carries it). */
async function countByIdentifier(patient: Patient): Promise<number> {
  const identifier = patient.identifier?.[0];
  const res = await fhirFetch(`Patient?identifier=${encodeURIComponent(`${identifier?.system}|${identifier?.value}`)}&_summary=count`);
  expect(res.status).to.equal(200);
  return ((await res.json()) as Bundle).total as number;
}

function expectFhirJson(contentType: string | null | undefined): void {
  expect(contentType ?? '').to.match(/^application\/fhir\+json(;|$)/);
}

function expectFhirXml(contentType: string | null | undefined): void {
  expect(contentType ?? '').to.equal('application/fhir+xml; charset=utf-8');
}

describe('negotiation: response format', () => {
  let patient: Patient & { id: string };
  before(async () => {
    patient = await createPatient();
  });

  for (const accept of ['application/fhir+json', 'application/json', '*/*', 'application/fhir+json; fhirVersion=4.0', 'application/fhir+xml;q=0.5, application/fhir+json', 'text/html, application/json;q=0.9']) {
    it(`when a Patient is read with Accept: ${accept}, then FHIR JSON is returned as application/fhir+json`, async () => {
      const res = await fhirFetch(`Patient/${patient.id}`, { headers: { accept } });
      expect(res.status).to.equal(200);
      expectFhirJson(res.headers.get('content-type'));
      expect(((await res.json()) as Patient).id).to.equal(patient.id);
    });
  }

  it('when a Patient is read without any Accept header, then FHIR JSON is returned as application/fhir+json', async () => {
    const res = await rawRequest(`Patient/${patient.id}`);
    expect(res.status).to.equal(200);
    expectFhirJson(res.headers['content-type']);
    expect((JSON.parse(res.body.toString('utf8')) as Patient).id).to.equal(patient.id);
  });

  for (const format of ['json', 'application/json', 'application/fhir+json']) {
    it(`when _format=${format} is given, then FHIR JSON is returned`, async () => {
      const res = await fhirFetch(`Patient/${patient.id}?_format=${encodeURIComponent(format)}`);
      expect(res.status).to.equal(200);
      expectFhirJson(res.headers.get('content-type'));
      expect(((await res.json()) as Patient).id).to.equal(patient.id);
    });
  }

  it('when a search is made without Accept, then the Bundle is returned as application/fhir+json', async () => {
    const res = await rawRequest(`Patient?_id=${patient.id}`);
    expect(res.status).to.equal(200);
    expectFhirJson(res.headers['content-type']);
    expect((JSON.parse(res.body.toString('utf8')) as Bundle).type).to.equal('searchset');
  });

  for (const format of ['ttl', 'application/fhir+turtle', 'html']) {
    it(`when _format=${format} is asked, then 406 NOT_ACCEPTABLE as an OperationOutcome in JSON`, async () => {
      await expectOutcome(await fhirFetch(`Patient/${patient.id}?_format=${encodeURIComponent(format)}`), 406, 'NOT_ACCEPTABLE');
    });
  }

  for (const format of ['xml', 'text/xml', 'application/xml', 'application/fhir+xml', 'application/fhir xml']) {
    it(`when _format=${format} is asked, then FHIR XML is returned as application/fhir+xml`, async () => {
      const res = await fhirFetch(`Patient/${patient.id}?_format=${encodeURIComponent(format)}`);
      expect(res.status).to.equal(200);
      expectFhirXml(res.headers.get('content-type'));
      expect(await res.text()).to.match(/^<\?xml[^>]*\?><Patient xmlns="http:\/\/hl7\.org\/fhir">/);
    });
  }

  for (const accept of ['application/fhir+xml', 'application/xml', 'text/xml', 'application/fhir+json;q=0.4, application/fhir+xml;q=0.8']) {
    it(`when Accept: ${accept} is given, then FHIR XML is returned as application/fhir+xml`, async () => {
      const res = await fhirFetch(`Patient/${patient.id}`, { headers: { accept } });
      expect(res.status).to.equal(200);
      expectFhirXml(res.headers.get('content-type'));
      expect(await res.text()).to.contain(`<id value="${patient.id}"/>`);
    });
  }

  for (const accept of ['application/fhir+turtle', 'text/turtle', 'text/html', 'application/fhir+json;q=0, text/turtle']) {
    it(`when only Accept: ${accept} is acceptable, then 406 NOT_ACCEPTABLE in JSON`, async () => {
      await expectOutcome(await fhirFetch(`Patient/${patient.id}`, { headers: { accept } }), 406, 'NOT_ACCEPTABLE');
    });
  }

  it('when _format=json and Accept: application/fhir+xml are both given, then _format wins (200 JSON)', async () => {
    const res = await fhirFetch(`Patient/${patient.id}?_format=json`, { headers: { accept: 'application/fhir+xml' } });
    expect(res.status).to.equal(200);
    expectFhirJson(res.headers.get('content-type'));
  });

  it('when Turtle is asked on a search, then 406 NOT_ACCEPTABLE', async () => {
    await expectOutcome(await fhirFetch(`Patient?_id=${patient.id}&_format=ttl`), 406, 'NOT_ACCEPTABLE');
  });

  it('when only Turtle is accepted on a create, then 406 and nothing is created', async () => {
    const body = testPatient();
    const res = await fhirFetch('Patient', { method: 'POST', headers: { accept: 'text/turtle' }, body: JSON.stringify(body) });
    await expectOutcome(res, 406, 'NOT_ACCEPTABLE');
    expect(await countByIdentifier(body)).to.equal(0);
  });

  it('when a JSON create asks for XML, then 201 with the created Patient in XML', async () => {
    const body = testPatient();
    const res = await fhirFetch('Patient', { method: 'POST', headers: { accept: 'application/fhir+xml' }, body: JSON.stringify(body) });
    expect(res.status).to.equal(201);
    expectFhirXml(res.headers.get('content-type'));
    expect(await res.text()).to.contain(`<family value="${body.name?.[0].family}"/>`);
    expect(await countByIdentifier(body)).to.equal(1);
  });

  it('when the CapabilityStatement is asked in XML, then it comes as FHIR XML', async () => {
    const res = await fhirFetch('metadata?_format=xml');
    expect(res.status).to.equal(200);
    expectFhirXml(res.headers.get('content-type'));
    expect(await res.text()).to.contain('<format value="application/fhir+xml"/>');
  });
});

describe('negotiation: request body format', () => {
  it('when a Patient body is sent as text/plain, then 415 UNSUPPORTED_MEDIA_TYPE and nothing is created', async () => {
    const body = testPatient();
    const res = await fhirFetch('Patient', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(body) });
    await expectOutcome(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(await countByIdentifier(body)).to.equal(0);
  });

  for (const contentType of ['text/turtle', 'application/fhir+turtle', 'application/x-www-form-urlencoded']) {
    it(`when a Patient body is sent as ${contentType}, then 415 UNSUPPORTED_MEDIA_TYPE and nothing is created`, async () => {
      const body = testPatient();
      const res = await fhirFetch('Patient', { method: 'POST', headers: { 'content-type': contentType }, body: `resource=${encodeURIComponent(JSON.stringify(body))}` });
      await expectOutcome(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
      expect(await countByIdentifier(body)).to.equal(0);
    });
  }

  it('when a Patient body is sent without a Content-Type, then 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const body = testPatient();
    const res = await rawRequest('Patient', { method: 'POST', headers: { accept: 'application/fhir+json' }, body: JSON.stringify(body) });
    expect(res.status, res.body.toString('utf8')).to.equal(415);
    expect(res.body.toString('utf8')).to.contain('OperationOutcome');
    expect(await countByIdentifier(body)).to.equal(0);
  });

  it('when an update body is sent as text/plain, then 415 and the stored resource is unchanged', async () => {
    const client = await fhirClient();
    const org = (await client.create({ resourceType: 'Organization', body: asBody(testOrganization()) })) as unknown as { id: string; name: string };
    const res = await fhirFetch(`Organization/${org.id}`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ ...org, name: 'X' }) });
    await expectOutcome(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    const read = (await client.read({ resourceType: 'Organization', id: org.id })) as unknown as { name: string; meta: { versionId: string } };
    expect(read.meta.versionId).to.equal('1');
    expect(read.name).to.equal(org.name);
  });

  it('when a FHIR JSON body declares a charset other than UTF-8, then 415 UNSUPPORTED_MEDIA_TYPE and nothing is created', async () => {
    const body = testPatient();
    const res = await fhirFetch('Patient', { method: 'POST', headers: { 'content-type': 'application/fhir+json; charset=iso-8859-1' }, body: JSON.stringify(body) });
    await expectOutcome(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(await countByIdentifier(body)).to.equal(0);
  });

  for (const contentType of ['application/json', 'application/fhir+json; charset=utf-8', 'application/json; fhirVersion=4.0']) {
    it(`when a Patient body is sent as ${contentType}, then it is accepted (201)`, async () => {
      const body = testPatient();
      const res = await fhirFetch('Patient', { method: 'POST', headers: { 'content-type': contentType }, body: JSON.stringify(body) });
      expect(res.status, await res.clone().text()).to.equal(201);
      expectFhirJson(res.headers.get('content-type'));
      expect(await countByIdentifier(body)).to.equal(1);
    });
  }
});
