import { expect } from 'chai';
import { Client } from 'fhir-kit-client';
import type { AuditEvent, Bundle, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import { asBody, expectOutcome, fhirClient, fhirFetch, officialName, testPatient, unique } from '../helpers/fhir.js';
import {
  expectClientError,
  testConsent,
  testDocumentReference,
  testList,
  testOrganization,
  testPractitioner,
  testPractitionerRole,
} from '../helpers/resources.js';
import { getTestServer } from '../helpers/server.js';

const VERSION_ETAG = /^W\/"\d+"$/;

/** Creates a resource with fhir-kit-client and returns what the server stored. */
async function create<T extends Resource>(resource: T): Promise<T & { id: string }> {
  const client = await fhirClient();
  const created = (await client.create({ resourceType: resource.resourceType, body: asBody(resource) })) as unknown as T;
  expect(created.id, JSON.stringify(created)).to.be.a('string');
  return created as T & { id: string };
}

/** Bundle.total of a search (query string without `?`), via fhir-kit-client and `_summary=count`. */
async function countOf(resourceType: string, searchParams: Record<string, string>): Promise<number> {
  const client = await fhirClient();
  const bundle = (await client.search({ resourceType, searchParams: { ...searchParams, _summary: 'count' } })) as unknown as Bundle;
  expect(bundle.total, JSON.stringify(bundle)).to.be.a('number');
  return bundle.total as number;
}

/** The `system|value` search token of a test Patient's INS. */
function insToken(patient: Patient): string {
  const identifier = patient.identifier?.[0];
  return `${identifier?.system}|${identifier?.value}`;
}

/** Reads a resource with fetch and returns status, headers and parsed body. */
async function readRaw(path: string, init: RequestInit = {}): Promise<{ res: Response; body: Resource | undefined }> {
  const res = await fhirFetch(path, init);
  const text = await res.text();
  return { res, body: text ? (JSON.parse(text) as Resource) : undefined };
}

describe('CRUD: health endpoints', () => {
  it('when /healthz is called, then it answers 200', async () => {
    const { baseUrl } = await getTestServer();
    const res = await fetch(`${baseUrl}/healthz`);
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.include({ status: 'ok' });
  });

  it('when /readyz is called with the database up, then it answers 200', async () => {
    const { baseUrl } = await getTestServer();
    const res = await fetch(`${baseUrl}/readyz`);
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.include({ status: 'ready' });
  });
});

describe('CRUD: read', () => {
  it('when an existing Patient is read, then 200 with ETag W/"1", Last-Modified and the id in the body', async () => {
    const patient = await create(testPatient());
    const { res, body } = await readRaw(`Patient/${patient.id}`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('etag')).to.equal('W/"1"');
    const lastModified = res.headers.get('last-modified');
    expect(lastModified).to.be.a('string');
    expect(new Date(lastModified as string).toUTCString()).to.equal(new Date(patient.meta?.lastUpdated as string).toUTCString());
    expect(body?.id).to.equal(patient.id);
    expect(body?.meta?.versionId).to.equal('1');
  });

  const otherTypes: { type: string; build: (patientId: string) => Promise<Resource> }[] = [
    { type: 'Practitioner', build: async () => testPractitioner() },
    { type: 'Organization', build: async () => testOrganization() },
    {
      type: 'PractitionerRole',
      build: async () => testPractitionerRole((await create(testPractitioner())).id, (await create(testOrganization())).id),
    },
    { type: 'DocumentReference', build: async (patientId) => testDocumentReference(patientId) },
    { type: 'List', build: async (patientId) => testList(patientId) },
    { type: 'Consent', build: async (patientId) => testConsent(patientId) },
  ];
  for (const { type, build } of otherTypes) {
    it(`when ${/^[AEIOU]/.test(type) ? 'an' : 'a'} ${type} is created and read with fhir-kit-client, then the read returns it with version 1 and an ETag`, async () => {
      const patient = await create(testPatient());
      const created = await create(await build(patient.id));
      expect(created.resourceType).to.equal(type);
      const client = await fhirClient();
      const read = (await client.read({ resourceType: type, id: created.id })) as unknown as Resource;
      expect(read.id).to.equal(created.id);
      expect(read.meta?.versionId).to.equal('1');
      const { response } = Client.httpFor(asBody(read));
      expect(response?.headers.get('etag')).to.equal('W/"1"');
      const { id: _i, meta: _m, ...sent } = created;
      expect(read).to.deep.include(sent);
    });
  }

  it('when an unknown id is read, then 404 NOT_FOUND OperationOutcome', async () => {
    await expectOutcome(await fhirFetch(`Patient/${unique('missing')}`), 404, 'NOT_FOUND');
  });

  it('when an unknown id is read with fhir-kit-client, then the client sees 404 NOT_FOUND', async () => {
    const client = await fhirClient();
    await expectClientError(client.read({ resourceType: 'Organization', id: unique('missing') }), 404, 'NOT_FOUND');
  });

  it('when an unknown resource type is read, then 404 UNKNOWN_TYPE', async () => {
    await expectOutcome(await fhirFetch(`Observation/${unique('x')}`), 404, 'UNKNOWN_TYPE');
  });

  it('when an older version is vread, then that version is returned as it was', async () => {
    const patient = await create(testPatient({ gender: 'female' }));
    const client = await fhirClient();
    await client.update({ resourceType: 'Patient', id: patient.id, body: asBody({ ...patient, gender: 'male' }) });
    const v1 = (await client.vread({ resourceType: 'Patient', id: patient.id, version: '1' })) as unknown as Patient;
    expect(v1.meta?.versionId).to.equal('1');
    expect(v1.gender).to.equal('female');
    const res = await fhirFetch(`Patient/${patient.id}/_history/1`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('etag')).to.equal('W/"1"');
    const current = (await client.read({ resourceType: 'Patient', id: patient.id })) as unknown as Patient;
    expect(current.gender).to.equal('male');
  });

  it('when a version that does not exist is vread, then 404 NOT_FOUND', async () => {
    const patient = await create(testPatient());
    await expectOutcome(await fhirFetch(`Patient/${patient.id}/_history/2`), 404, 'NOT_FOUND');
    await expectOutcome(await fhirFetch(`Patient/${patient.id}/_history/abc`), 404, 'NOT_FOUND');
  });

  it('when If-None-Match carries the current version, then 304 without a body', async () => {
    const patient = await create(testPatient());
    const res = await fhirFetch(`Patient/${patient.id}`, { headers: { 'if-none-match': 'W/"1"' } });
    expect(res.status).to.equal(304);
    expect(await res.text()).to.equal('');
    expect(res.headers.get('etag')).to.equal('W/"1"');
  });

  it('when If-None-Match carries an older version, then 200 with the current version', async () => {
    const patient = await create(testPatient());
    const client = await fhirClient();
    await client.update({ resourceType: 'Patient', id: patient.id, body: asBody({ ...patient, gender: 'male' }) });
    const { res, body } = await readRaw(`Patient/${patient.id}`, { headers: { 'if-none-match': 'W/"1"' } });
    expect(res.status).to.equal(200);
    expect(res.headers.get('etag')).to.equal('W/"2"');
    expect(body?.meta?.versionId).to.equal('2');
  });
});

describe('CRUD: create', () => {
  it('when a Patient is created, then 201 with an absolute Location <fhirBase>/Patient/<id>/_history/1 and ETag W/"1"', async () => {
    const { fhirBase } = await getTestServer();
    const { res, body } = await readRaw('Patient', { method: 'POST', body: JSON.stringify(testPatient()) });
    expect(res.status).to.equal(201);
    expect(res.headers.get('location')).to.equal(`${fhirBase}/Patient/${body?.id}/_history/1`);
    expect(res.headers.get('etag')).to.equal('W/"1"');
    expect(res.headers.get('last-modified')).to.be.a('string');
    expect(body?.meta?.versionId).to.equal('1');
  });

  it('when the body carries an id, then the server assigns its own id and the client id stays unknown', async () => {
    const clientId = unique('client-id');
    const created = await create(testPatient({ id: clientId }));
    expect(created.id).to.not.equal(clientId);
    await expectOutcome(await fhirFetch(`Patient/${clientId}`), 404, 'NOT_FOUND');
  });

  it('when the body carries meta.versionId and meta.lastUpdated, then the server ignores them', async () => {
    const created = await create(testPatient({ meta: { versionId: '7', lastUpdated: '2001-01-01T00:00:00.000Z' } }));
    expect(created.meta?.versionId).to.equal('1');
    expect(created.meta?.lastUpdated).to.not.equal('2001-01-01T00:00:00.000Z');
    const { res } = await readRaw(`Patient/${created.id}`);
    expect(res.headers.get('etag')).to.equal('W/"1"');
    expect(new Date(res.headers.get('last-modified') as string).getUTCFullYear()).to.be.greaterThan(2001);
  });

  it('when a resource of another type is created, then 201 with its own Location', async () => {
    const { fhirBase } = await getTestServer();
    const { res, body } = await readRaw('Organization', { method: 'POST', body: JSON.stringify(testOrganization()) });
    expect(res.status).to.equal(201);
    expect(res.headers.get('location')).to.equal(`${fhirBase}/Organization/${body?.id}/_history/1`);
  });

  it('when If-None-Exist matches nothing, then the resource is created (201)', async () => {
    const patient = testPatient();
    const res = await fhirFetch('Patient', { method: 'POST', headers: { 'if-none-exist': `identifier=${insToken(patient)}` }, body: JSON.stringify(patient) });
    expect(res.status).to.equal(201);
    expect(await countOf('Patient', { identifier: insToken(patient) })).to.equal(1);
  });

  it('when If-None-Exist matches one resource, then 200 with that resource and nothing is created', async () => {
    const patient = testPatient();
    const existing = await create(patient);
    const res = await fhirFetch('Patient', {
      method: 'POST',
      headers: { 'if-none-exist': `identifier=${insToken(patient)}` },
      body: JSON.stringify({ ...patient, gender: 'male' }),
    });
    expect(res.status).to.equal(200);
    const body = (await res.json()) as Patient;
    expect(body.id).to.equal(existing.id);
    expect(body.gender).to.equal('female');
    expect(res.headers.get('etag')).to.equal('W/"1"');
    expect(await countOf('Patient', { identifier: insToken(patient) })).to.equal(1);
  });

  it('when If-None-Exist matches two resources, then 412 CONDITIONAL_NOT_SELECTIVE and nothing is created', async () => {
    const family = unique('Dup');
    await create(testPatient({ name: [officialName(family, ['Jeanne'])] }));
    await create(testPatient({ name: [officialName(family, ['Jeanne'])] }));
    const res = await fhirFetch('Patient', {
      method: 'POST',
      headers: { 'if-none-exist': `family=${family}` },
      body: JSON.stringify(testPatient({ name: [officialName(family, ['Jeanne'])] })),
    });
    await expectOutcome(res, 412, 'CONDITIONAL_NOT_SELECTIVE');
    expect(await countOf('Patient', { family })).to.equal(2);
  });

  it('when If-None-Exist uses an unknown search parameter, then 400 UNKNOWN_SEARCH_PARAM and nothing is created', async () => {
    const patient = testPatient();
    const res = await fhirFetch('Patient', { method: 'POST', headers: { 'if-none-exist': `shoe-size=42` }, body: JSON.stringify(patient) });
    await expectOutcome(res, 400, 'UNKNOWN_SEARCH_PARAM');
    expect(await countOf('Patient', { identifier: insToken(patient) })).to.equal(0);
  });
});

describe('CRUD: update', () => {
  it('when a Patient is updated with fhir-kit-client, then 200 with version 2 and the change is read back', async () => {
    const patient = await create(testPatient());
    const client = await fhirClient();
    const updated = (await client.update({ resourceType: 'Patient', id: patient.id, body: asBody({ ...patient, gender: 'male' }) })) as unknown as Patient;
    expect(updated.meta?.versionId).to.equal('2');
    const { response } = Client.httpFor(asBody(updated));
    expect(response?.status).to.equal(200);
    expect(response?.headers.get('etag')).to.equal('W/"2"');
    const read = (await client.read({ resourceType: 'Patient', id: patient.id })) as unknown as Patient;
    expect(read.gender).to.equal('male');
    expect(read.meta?.versionId).to.equal('2');
  });

  it('when If-Match carries the current version, then the update succeeds (200)', async () => {
    const patient = await create(testPatient());
    const res = await fhirFetch(`Patient/${patient.id}`, {
      method: 'PUT',
      headers: { 'if-match': 'W/"1"' },
      body: JSON.stringify({ ...patient, gender: 'male' }),
    });
    expect(res.status).to.equal(200);
    expect(res.headers.get('etag')).to.equal('W/"2"');
  });

  it('when If-Match carries a stale version, then 412 PRECONDITION_FAILED and nothing is written', async () => {
    const patient = await create(testPatient());
    const client = await fhirClient();
    await client.update({ resourceType: 'Patient', id: patient.id, body: asBody({ ...patient, gender: 'male' }) });
    const res = await fhirFetch(`Patient/${patient.id}`, {
      method: 'PUT',
      headers: { 'if-match': 'W/"1"' },
      body: JSON.stringify({ ...patient, gender: 'other' }),
    });
    await expectOutcome(res, 412, 'PRECONDITION_FAILED');
    const read = (await client.read({ resourceType: 'Patient', id: patient.id })) as unknown as Patient;
    expect(read.meta?.versionId).to.equal('2');
    expect(read.gender).to.equal('male');
  });

  it('when If-Match is not an ETag, then 400 BAD_REQUEST', async () => {
    const patient = await create(testPatient());
    const res = await fhirFetch(`Patient/${patient.id}`, { method: 'PUT', headers: { 'if-match': 'yesterday' }, body: JSON.stringify(patient) });
    await expectOutcome(res, 400, 'BAD_REQUEST');
  });

  it('when a PUT targets a new id, then the resource is created (201) at that id', async () => {
    const { fhirBase } = await getTestServer();
    const id = unique('put-');
    const res = await fhirFetch(`Practitioner/${id}`, { method: 'PUT', body: JSON.stringify({ ...testPractitioner(), id }) });
    expect(res.status).to.equal(201);
    expect(res.headers.get('location')).to.equal(`${fhirBase}/Practitioner/${id}/_history/1`);
    expect(res.headers.get('etag')).to.equal('W/"1"');
    const client = await fhirClient();
    const read = (await client.read({ resourceType: 'Practitioner', id })) as unknown as Resource;
    expect(read.id).to.equal(id);
  });

  it('when a PUT targets an id that is not a valid FHIR id, then 400 INVALID_ID and nothing is stored', async () => {
    const id = `${unique('bad')}!`;
    const res = await fhirFetch(`Organization/${encodeURIComponent(id)}`, { method: 'PUT', body: JSON.stringify({ ...testOrganization(), id }) });
    await expectOutcome(res, 400, 'INVALID_ID');
    await expectOutcome(await fhirFetch(`Organization/${encodeURIComponent(id)}`), 404, 'NOT_FOUND');
  });

  it('when a PUT targets an id longer than 64 characters, then 400 INVALID_ID', async () => {
    const id = unique('long').padEnd(65, 'x');
    const res = await fhirFetch(`Organization/${id}`, { method: 'PUT', body: JSON.stringify({ ...testOrganization(), id }) });
    await expectOutcome(res, 400, 'INVALID_ID');
  });

  const rejectedBodies: { what: string; status: number; kind: 'MISSING_ID' | 'ID_MISMATCH' | 'WRONG_RESOURCE_TYPE'; body: (p: Patient & { id: string }) => object }[] = [
    { what: 'has no id', status: 400, kind: 'MISSING_ID', body: ({ id: _id, ...rest }) => ({ ...rest, gender: 'male' }) },
    { what: 'has another id', status: 400, kind: 'ID_MISMATCH', body: (p) => ({ ...p, id: unique('other'), gender: 'male' }) },
    { what: 'is of another resource type', status: 400, kind: 'WRONG_RESOURCE_TYPE', body: (p) => ({ ...testPractitioner(), id: p.id }) },
  ];
  for (const { what, status, kind, body } of rejectedBodies) {
    it(`when a PUT body ${what}, then ${status} ${kind} and the stored resource is unchanged`, async () => {
      const patient = await create(testPatient());
      const res = await fhirFetch(`Patient/${patient.id}`, { method: 'PUT', body: JSON.stringify(body(patient)) });
      await expectOutcome(res, status, kind);
      const client = await fhirClient();
      const read = (await client.read({ resourceType: 'Patient', id: patient.id })) as unknown as Patient;
      expect(read.meta?.versionId).to.equal('1');
      expect(read.gender).to.equal('female');
      expect(read.resourceType).to.equal('Patient');
    });
  }

  it('when a PUT body has an id mismatch, then fhir-kit-client sees 400 ID_MISMATCH', async () => {
    const org = await create(testOrganization());
    const client = await fhirClient();
    await expectClientError(client.update({ resourceType: 'Organization', id: org.id, body: asBody({ ...org, id: unique('zz') }) }), 400, 'ID_MISMATCH');
  });
});

describe('CRUD: delete', () => {
  it('when a resource is deleted, then 200 with an OperationOutcome and a read answers 410 GONE', async () => {
    const patient = await create(testPatient());
    const client = await fhirClient();
    const outcome = (await client.delete({ resourceType: 'Patient', id: patient.id })) as unknown as OperationOutcome;
    expect(outcome.resourceType).to.equal('OperationOutcome');
    await expectOutcome(await fhirFetch(`Patient/${patient.id}`), 410, 'GONE');
  });

  it('when a resource is deleted, then the response carries no ETag other than a version tag', async () => {
    const org = await create(testOrganization());
    const res = await fhirFetch(`Organization/${org.id}`, { method: 'DELETE' });
    expect(res.status).to.equal(200);
    const etag = res.headers.get('etag');
    if (etag !== null) {
      expect(etag).to.match(VERSION_ETAG);
    }
  });

  it('when a deleted resource is deleted again, then 200 again (idempotent) and it stays gone', async () => {
    const org = await create(testOrganization());
    expect((await fhirFetch(`Organization/${org.id}`, { method: 'DELETE' })).status).to.equal(200);
    const again = await fhirFetch(`Organization/${org.id}`, { method: 'DELETE' });
    expect(again.status).to.equal(200);
    expect(((await again.json()) as OperationOutcome).resourceType).to.equal('OperationOutcome');
    await expectOutcome(await fhirFetch(`Organization/${org.id}`), 410, 'GONE');
    const history = (await (await fhirClient()).history({ resourceType: 'Organization', id: org.id })) as unknown as Bundle;
    expect(history.entry?.length, 'a second delete writes no version').to.equal(2);
  });

  it('when an id that never existed is deleted, then 200 (nothing to delete)', async () => {
    const res = await fhirFetch(`Practitioner/${unique('never')}`, { method: 'DELETE' });
    expect(res.status).to.equal(200);
    expect(((await res.json()) as OperationOutcome).resourceType).to.equal('OperationOutcome');
  });

  it('when a resource is deleted, then search no longer finds it', async () => {
    const patient = testPatient();
    const created = await create(patient);
    expect(await countOf('Patient', { identifier: insToken(patient) })).to.equal(1);
    expect(await countOf('Patient', { _id: created.id })).to.equal(1);
    await (await fhirClient()).delete({ resourceType: 'Patient', id: created.id });
    expect(await countOf('Patient', { identifier: insToken(patient) })).to.equal(0);
    expect(await countOf('Patient', { _id: created.id })).to.equal(0);
  });

  it('when a resource is deleted, then its history shows the deletion as the newest entry', async () => {
    const list = await create(testList((await create(testPatient())).id));
    const client = await fhirClient();
    await client.delete({ resourceType: 'List', id: list.id });
    const history = (await client.history({ resourceType: 'List', id: list.id })) as unknown as Bundle;
    expect(history.type).to.equal('history');
    expect(history.entry).to.have.length(2);
    const [deletion, creation] = history.entry ?? [];
    expect(deletion.request?.method).to.equal('DELETE');
    expect(deletion.resource).to.equal(undefined);
    expect(deletion.response?.etag).to.equal('W/"2"');
    expect(creation.request?.method).to.equal('POST');
    expect(creation.resource?.id).to.equal(list.id);
  });

  it('when the deletion version is vread, then 410 GONE, while the version before still reads', async () => {
    const org = await create(testOrganization());
    await (await fhirClient()).delete({ resourceType: 'Organization', id: org.id });
    await expectOutcome(await fhirFetch(`Organization/${org.id}/_history/2`), 410, 'GONE');
    expect((await fhirFetch(`Organization/${org.id}/_history/1`)).status).to.equal(200);
  });
});

describe('CRUD: history', () => {
  it('when a resource has three versions, then its history lists them newest first with their ETags', async () => {
    const patient = await create(testPatient({ gender: 'female' }));
    const client = await fhirClient();
    await client.update({ resourceType: 'Patient', id: patient.id, body: asBody({ ...patient, gender: 'male' }) });
    await client.update({ resourceType: 'Patient', id: patient.id, body: asBody({ ...patient, gender: 'other' }) });
    const history = (await client.history({ resourceType: 'Patient', id: patient.id })) as unknown as Bundle<Patient>;
    expect(history.resourceType).to.equal('Bundle');
    expect(history.type).to.equal('history');
    expect(history.entry?.map((e) => e.resource?.meta?.versionId)).to.deep.equal(['3', '2', '1']);
    expect(history.entry?.map((e) => e.resource?.gender)).to.deep.equal(['other', 'male', 'female']);
    expect(history.entry?.map((e) => e.response?.etag)).to.deep.equal(['W/"3"', 'W/"2"', 'W/"1"']);
    expect(history.entry?.map((e) => e.request?.method)).to.deep.equal(['PUT', 'PUT', 'POST']);
  });

  it('when the history of an unknown id is asked, then 404 NOT_FOUND', async () => {
    await expectOutcome(await fhirFetch(`Patient/${unique('nohist')}/_history`), 404, 'NOT_FOUND');
  });
});

describe('CRUD: AuditEvent is written by the server only', () => {
  function auditEvent(entityRef: string): AuditEvent {
    return {
      resourceType: 'AuditEvent',
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
      action: 'R',
      recorded: '2024-03-01T10:00:00Z',
      outcome: '0',
      agent: [{ who: { display: 'Someone' }, requestor: true }],
      source: { observer: { display: 'client' } },
      entity: [{ what: { reference: entityRef } }],
    };
  }

  it('when a client POSTs an AuditEvent, then 405 METHOD_NOT_ALLOWED and nothing is stored', async () => {
    const entity = `Patient/${unique('ae')}`;
    await expectOutcome(await fhirFetch('AuditEvent', { method: 'POST', body: JSON.stringify(auditEvent(entity)) }), 405, 'METHOD_NOT_ALLOWED');
    expect(await countOf('AuditEvent', { entity })).to.equal(0);
  });

  it('when a client PUTs an AuditEvent, then 405 METHOD_NOT_ALLOWED and nothing is stored at that id', async () => {
    const id = unique('ae');
    const res = await fhirFetch(`AuditEvent/${id}`, { method: 'PUT', body: JSON.stringify({ ...auditEvent(`Patient/${unique('ae')}`), id }) });
    await expectOutcome(res, 405, 'METHOD_NOT_ALLOWED');
    await expectOutcome(await fhirFetch(`AuditEvent/${id}`), 404, 'NOT_FOUND');
  });

  it('when a client DELETEs an AuditEvent, then 405 METHOD_NOT_ALLOWED', async () => {
    await expectOutcome(await fhirFetch(`AuditEvent/${unique('ae')}`, { method: 'DELETE' }), 405, 'METHOD_NOT_ALLOWED');
  });

  it('when fhir-kit-client creates an AuditEvent, then it sees 405', async () => {
    const client = await fhirClient();
    await expectClientError(client.create({ resourceType: 'AuditEvent', body: asBody(auditEvent(`Patient/${unique('ae')}`)) }), 405, 'METHOD_NOT_ALLOWED');
  });
});

describe('CRUD: Prefer return=', () => {
  it('when a create asks return=minimal, then 201 with no body but Location and ETag', async () => {
    const { fhirBase } = await getTestServer();
    const patient = testPatient();
    const res = await fhirFetch('Patient', { method: 'POST', headers: { prefer: 'return=minimal' }, body: JSON.stringify(patient) });
    expect(res.status).to.equal(201);
    expect(await res.text()).to.equal('');
    expect(res.headers.get('location')).to.match(new RegExp(`^${fhirBase}/Patient/[A-Za-z0-9.-]+/_history/1$`));
    expect(res.headers.get('etag')).to.equal('W/"1"');
    expect(await countOf('Patient', { identifier: insToken(patient) })).to.equal(1);
  });

  it('when an update asks return=minimal, then 200 with no body and ETag W/"2"', async () => {
    const org = await create(testOrganization());
    const res = await fhirFetch(`Organization/${org.id}`, { method: 'PUT', headers: { prefer: 'return=minimal' }, body: JSON.stringify({ ...org, name: 'Renamed' }) });
    expect(res.status).to.equal(200);
    expect(await res.text()).to.equal('');
    expect(res.headers.get('etag')).to.equal('W/"2"');
  });

  it('when a create asks return=representation, then 201 with the stored resource', async () => {
    const res = await fhirFetch('Patient', { method: 'POST', headers: { prefer: 'return=representation' }, body: JSON.stringify(testPatient()) });
    expect(res.status).to.equal(201);
    const body = (await res.json()) as Patient;
    expect(body.resourceType).to.equal('Patient');
    expect(res.headers.get('location')).to.contain(`/Patient/${body.id}/_history/1`);
  });

  it('when a create asks return=OperationOutcome, then 201 with an OperationOutcome and still Location and ETag', async () => {
    const res = await fhirFetch('Patient', { method: 'POST', headers: { prefer: 'return=OperationOutcome' }, body: JSON.stringify(testPatient()) });
    expect(res.status).to.equal(201);
    const body = (await res.json()) as OperationOutcome;
    expect(body.resourceType).to.equal('OperationOutcome');
    expect(body.issue[0].severity).to.equal('information');
    expect(res.headers.get('location')).to.match(/\/Patient\/[A-Za-z0-9.-]+\/_history\/1$/);
    expect(res.headers.get('etag')).to.equal('W/"1"');
  });

  it('when an update asks return=OperationOutcome, then 200 with an OperationOutcome', async () => {
    const org = await create(testOrganization());
    const res = await fhirFetch(`Organization/${org.id}`, { method: 'PUT', headers: { prefer: 'return=OperationOutcome' }, body: JSON.stringify(org) });
    expect(res.status).to.equal(200);
    expect(((await res.json()) as OperationOutcome).resourceType).to.equal('OperationOutcome');
  });

  it('when a read sends Prefer return=minimal, then the resource is still returned', async () => {
    const org = await create(testOrganization());
    const { res, body } = await readRaw(`Organization/${org.id}`, { headers: { prefer: 'return=minimal' } });
    expect(res.status).to.equal(200);
    expect(body?.id).to.equal(org.id);
  });
});
