import { expect } from 'chai';
import type { Patient } from '@medplum/fhirtypes';
import { asBody, fhirClient, fhirFetch, testPatient } from '../helpers/fhir.js';

describe('smoke: the server stores and serves a Patient', () => {
  it('when a Patient is created with fhir-kit-client, then it reads back with version 1', async () => {
    const client = await fhirClient();
    const created = (await client.create({ resourceType: 'Patient', body: asBody(testPatient()) })) as Patient;
    expect(created.id).to.be.a('string');
    expect(created.meta?.versionId).to.equal('1');
    const res = await fhirFetch(`Patient/${created.id}`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('etag')).to.equal('W/"1"');
  });
});
