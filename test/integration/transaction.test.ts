import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { getTestServer } from '../helpers/server.js';
import type {
  Binary,
  Bundle,
  BundleEntry,
  DocumentReference,
  OperationOutcome,
  Organization,
  Patient,
  Practitioner,
} from '@medplum/fhirtypes';
import { CATALOGUE, ERROR_CODE_SYSTEM, type ErrorKind } from '../../src/fhir/outcomes.js';
import { INS_NIR_TEST_SYSTEM } from '../../src/dmp/identifiers.js';
import { asBody, expectOutcome, fhirClient, fhirFetch, officialName, testPatient, unique } from '../helpers/fhir.js';

const TEST_ID_SYSTEM = 'urn:test:transaction';

/** The error fhir-kit-client throws on a non-2xx answer. */
interface ClientError {
  response?: { status: number; data: unknown };
}

/** Runs a fhir-kit-client call that must fail; returns the OperationOutcome after checking status and code. */
async function expectRejected(call: Promise<unknown>, status: number, kind?: ErrorKind): Promise<OperationOutcome> {
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
    expect(codesOf(outcome), JSON.stringify(outcome)).to.include(CATALOGUE[kind].id);
  }
  return outcome;
}

function codesOf(outcome: OperationOutcome): string[] {
  return outcome.issue.flatMap((i) => i.details?.coding ?? []).filter((c) => c.system === ERROR_CODE_SYSTEM).map((c) => c.code as string);
}

/** Every place an OperationOutcome says where the problem is: texts and expressions. */
function locationsOf(outcome: OperationOutcome): string {
  return outcome.issue.flatMap((i) => [i.details?.text ?? '', i.diagnostics ?? '', ...(i.expression ?? [])]).join('\n');
}

function urn(): string {
  return `urn:uuid:${randomUUID()}`;
}

function transaction(entry: BundleEntry[], type: 'transaction' | 'batch' = 'transaction'): Bundle {
  return { resourceType: 'Bundle', type, entry };
}

function post(fullUrl: string, resource: BundleEntry['resource'], ifNoneExist?: string): BundleEntry {
  return { fullUrl, resource, request: { method: 'POST', url: resource?.resourceType as string, ...(ifNoneExist ? { ifNoneExist } : {}) } };
}

/** Number of resources of a type matching a search (scoped by the caller to its own data). */
async function countOf(type: string, query: string): Promise<number> {
  const res = await fhirFetch(`${type}?${query}&_summary=count`);
  expect(res.status).to.equal(200);
  return ((await res.json()) as Bundle).total as number;
}

async function read<T>(reference: string): Promise<T> {
  const res = await fhirFetch(reference);
  expect(res.status, reference).to.equal(200);
  return (await res.json()) as T;
}

/** The four linked resources of a document: Patient, author, DocumentReference → Patient, Binary. */
interface DocumentSet {
  readonly patientUrn: string;
  readonly practitionerUrn: string;
  readonly documentUrn: string;
  readonly binaryUrn: string;
  readonly patient: Patient;
  readonly practitioner: Practitioner;
  readonly document: DocumentReference;
  readonly binary: Binary;
  readonly marker: string;
}

function documentSet(): DocumentSet {
  const marker = unique('tx');
  const patientUrn = urn();
  const practitionerUrn = urn();
  const documentUrn = urn();
  const binaryUrn = urn();
  const patient = testPatient({ name: [officialName(`Fam${marker}`, ['Alice'])] });
  const practitioner: Practitioner = {
    resourceType: 'Practitioner',
    identifier: [{ system: TEST_ID_SYSTEM, value: `prac-${marker}` }],
    name: [{ family: `Doc${marker}` }],
  };
  const binary: Binary = { resourceType: 'Binary', contentType: 'text/plain', data: Buffer.from(`report ${marker}`).toString('base64') };
  const document: DocumentReference = {
    resourceType: 'DocumentReference',
    identifier: [{ system: TEST_ID_SYSTEM, value: `doc-${marker}` }],
    status: 'current',
    type: { coding: [{ system: 'http://loinc.org', code: '11488-4' }] },
    subject: { reference: patientUrn },
    author: [{ reference: practitionerUrn }],
    content: [{ attachment: { contentType: 'text/plain', url: binaryUrn } }],
  };
  return { patientUrn, practitionerUrn, documentUrn, binaryUrn, patient, practitioner, document, binary, marker };
}

function documentEntries(set: DocumentSet): BundleEntry[] {
  return [
    post(set.patientUrn, set.patient),
    post(set.practitionerUrn, set.practitioner),
    post(set.documentUrn, set.document),
    post(set.binaryUrn, set.binary),
  ];
}

/** True when some Binary written since `since` holds this set's bytes. */
async function binaryStoredSince(since: string, set: DocumentSet): Promise<boolean> {
  let url: string | undefined = `Binary/_history?_since=${encodeURIComponent(since)}&_count=100`;
  while (url) {
    const res = await fhirFetch(url);
    expect(res.status).to.equal(200);
    const page = (await res.json()) as Bundle<Binary>;
    if ((page.entry ?? []).some((e) => e.resource?.data === set.binary.data)) {
      return true;
    }
    const next = page.link?.find((l) => l.relation === 'next')?.url;
    url = next ? next.slice(next.indexOf('/fhir/') + '/fhir/'.length) : undefined;
  }
  return false;
}

/** Asserts nothing of the set was stored. */
async function expectNothingStored(set: DocumentSet, since: string): Promise<void> {
  const ins = set.patient.identifier?.[0].value as string;
  expect(await countOf('Patient', `identifier=${encodeURIComponent(`${INS_NIR_TEST_SYSTEM}|${ins}`)}`)).to.equal(0);
  expect(await countOf('Practitioner', `identifier=${encodeURIComponent(`${TEST_ID_SYSTEM}|prac-${set.marker}`)}`)).to.equal(0);
  expect(await countOf('DocumentReference', `identifier=${encodeURIComponent(`${TEST_ID_SYSTEM}|doc-${set.marker}`)}`)).to.equal(0);
  expect(await binaryStoredSince(since, set)).to.equal(false);
}

/** `Type/id` from a response location `Type/id/_history/n` (relative or absolute). */
function referenceOf(location: string | undefined): string {
  const m = /([A-Za-z]+\/[^/]+)\/_history\/\d+$/.exec(location ?? '');
  expect(m, `location ${location}`).to.not.equal(null);
  return (m as RegExpExecArray)[1];
}

describe('transaction and batch (POST [base])', () => {
  describe('transaction of linked new resources', () => {
    let set: DocumentSet;
    let response: Bundle;

    before(async () => {
      set = documentSet();
      const client = await fhirClient();
      response = (await client.transaction({ body: asBody(transaction(documentEntries(set))) })) as unknown as Bundle;
    });

    it('when a transaction succeeds, then it answers a transaction-response with one entry per request entry', () => {
      expect(response.resourceType).to.equal('Bundle');
      expect(response.type).to.equal('transaction-response');
      expect(response.entry).to.have.length(4);
    });

    it('when a transaction creates resources, then each entry answers 201 Created with a location and an etag, in request order', () => {
      const types = ['Patient', 'Practitioner', 'DocumentReference', 'Binary'];
      response.entry?.forEach((e, i) => {
        expect(e.response?.status).to.match(/^201( Created)?$/);
        expect(e.response?.location).to.match(new RegExp(`^(.*/)?${types[i]}/[^/]+/_history/1$`));
        expect(e.response?.etag).to.equal('W/"1"');
      });
    });

    it('when entries refer to each other by urn:uuid, then the stored references name the created resources', async () => {
      const patientRef = referenceOf(response.entry?.[0].response?.location);
      const practitionerRef = referenceOf(response.entry?.[1].response?.location);
      const binaryRef = referenceOf(response.entry?.[3].response?.location);
      const stored = await read<DocumentReference>(referenceOf(response.entry?.[2].response?.location));
      expect(stored.subject?.reference).to.equal(patientRef);
      expect(stored.author?.[0].reference).to.equal(practitionerRef);
      // The urn:uuid became the Binary, at an absolute URL on this server's FHIR base (ITI-68).
      expect(stored.content[0].attachment.url).to.equal(`${(await getTestServer()).fhirBase}/${binaryRef}`);
    });

    it('when a transaction has committed, then each created resource reads back with its content', async () => {
      const patient = await read<Patient>(referenceOf(response.entry?.[0].response?.location));
      expect(patient.identifier?.[0].value).to.equal(set.patient.identifier?.[0].value);
      const binary = await read<Binary>(referenceOf(response.entry?.[3].response?.location));
      expect(binary.data).to.equal(set.binary.data);
      const docs = await countOf('DocumentReference', `identifier=${encodeURIComponent(`${TEST_ID_SYSTEM}|doc-${set.marker}`)}`);
      expect(docs).to.equal(1);
    });

    it('when the DocumentReference is searched by its patient, then the urn:uuid link was stored as a searchable reference', async () => {
      const patientRef = referenceOf(response.entry?.[0].response?.location);
      const res = await fhirFetch(`DocumentReference?patient=${patientRef}`);
      const bundle = (await res.json()) as Bundle<DocumentReference>;
      expect(bundle.total).to.equal(1);
      expect(bundle.entry?.[0].resource?.identifier?.[0].value).to.equal(`doc-${set.marker}`);
    });
  });

  describe('atomicity', () => {
    it('when one entry breaks the Patient profile, then the transaction fails naming that entry and stores nothing', async () => {
      const set = documentSet();
      const since = new Date(Date.now() - 1000).toISOString();
      const { birthDate: _omitted, ...withoutBirthDate } = set.patient;
      const entries = documentEntries(set);
      entries[0] = post(set.patientUrn, withoutBirthDate as Patient);
      const client = await fhirClient();
      const outcome = await expectRejected(client.transaction({ body: asBody(transaction(entries)) }), 422, 'PROFILE_VIOLATION');
      expect(locationsOf(outcome)).to.contain('Bundle.entry[0]');
      await expectNothingStored(set, since);
    });

    it('when the failing entry comes last, then the resources written by the earlier entries are rolled back', async () => {
      const set = documentSet();
      const since = new Date(Date.now() - 1000).toISOString();
      const entries = documentEntries(set);
      // An Organization without the required-by-base-rules shape: an unknown element.
      entries.push(post(urn(), { resourceType: 'Organization', name: 'x', notAnElement: true } as unknown as Organization));
      const client = await fhirClient();
      const outcome = await expectRejected(client.transaction({ body: asBody(transaction(entries)) }), 400, 'INVALID_RESOURCE');
      expect(locationsOf(outcome)).to.contain('Bundle.entry[4]');
      await expectNothingStored(set, since);
    });

    it('when an entry refers to a urn:uuid no entry defines, then the transaction fails with UNRESOLVED_REFERENCE naming that entry and stores nothing', async () => {
      const set = documentSet();
      const since = new Date(Date.now() - 1000).toISOString();
      const entries = documentEntries(set);
      entries[2] = post(set.documentUrn, { ...set.document, subject: { reference: urn() } });
      const client = await fhirClient();
      const outcome = await expectRejected(client.transaction({ body: asBody(transaction(entries)) }), 400, 'UNRESOLVED_REFERENCE');
      expect(locationsOf(outcome)).to.contain('Bundle.entry[2]');
      await expectNothingStored(set, since);
    });

    it('when an attachment url names a urn:uuid no entry defines, then the transaction fails with UNRESOLVED_REFERENCE and stores nothing', async () => {
      const set = documentSet();
      const since = new Date(Date.now() - 1000).toISOString();
      const entries = documentEntries(set);
      const content = [{ attachment: { contentType: 'application/pdf', url: urn() } }];
      entries[2] = post(set.documentUrn, { ...set.document, content });
      const client = await fhirClient();
      const outcome = await expectRejected(client.transaction({ body: asBody(transaction(entries)) }), 400, 'UNRESOLVED_REFERENCE');
      expect(locationsOf(outcome)).to.contain('Bundle.entry[2]');
      await expectNothingStored(set, since);
    });

    it('when two entries share a fullUrl, then the transaction is an INVALID_BUNDLE and stores nothing', async () => {
      const set = documentSet();
      const since = new Date(Date.now() - 1000).toISOString();
      const entries = documentEntries(set);
      entries[1] = post(set.patientUrn, set.practitioner);
      const client = await fhirClient();
      const outcome = await expectRejected(client.transaction({ body: asBody(transaction(entries)) }), 400, 'INVALID_BUNDLE');
      expect(locationsOf(outcome)).to.contain('Bundle.entry[1]');
      await expectNothingStored(set, since);
    });
  });

  describe('other transaction rules', () => {
    it('when a PUT entry refers to a POST entry by urn:uuid, then the stored reference names the created resource', async () => {
      const client = await fhirClient();
      const set = documentSet();
      const docId = unique('doc');
      const response = (await client.transaction({
        body: asBody(
          transaction([
            { resource: { ...set.document, id: docId }, request: { method: 'PUT', url: `DocumentReference/${docId}` } },
            post(set.patientUrn, set.patient),
            post(set.practitionerUrn, set.practitioner),
            post(set.binaryUrn, set.binary),
          ])
        ),
      })) as unknown as Bundle;
      expect(response.entry?.[0].response?.status).to.match(/^201/);
      const doc = await read<DocumentReference>(`DocumentReference/${docId}`);
      expect(doc.subject?.reference).to.equal(referenceOf(response.entry?.[1].response?.location));
      expect(doc.content[0].attachment.url).to.equal(`${(await getTestServer()).fhirBase}/${referenceOf(response.entry?.[3].response?.location)}`);
    });

    it('when a transaction is sent with Prefer: return=minimal, then entries carry status, location and etag but no resource', async () => {
      const client = await fhirClient();
      const set = documentSet();
      const response = (await client.transaction({
        body: asBody(transaction(documentEntries(set))),
        options: { headers: { Prefer: 'return=minimal' } },
      })) as unknown as Bundle;
      expect(response.entry).to.have.length(4);
      response.entry?.forEach((e) => {
        expect(e.resource).to.equal(undefined);
        expect(e.response?.status).to.match(/^201/);
        expect(e.response?.location).to.be.a('string');
        expect(e.response?.etag).to.equal('W/"1"');
      });
    });

    it('when a PUT entry has a stale ifMatch, then the transaction fails with 412 and the other entries are not stored', async () => {
      const client = await fhirClient();
      const marker = unique('stale');
      const org: Organization = { resourceType: 'Organization', identifier: [{ system: TEST_ID_SYSTEM, value: marker }], name: 'v1' };
      const created = (await client.create({ resourceType: 'Organization', body: asBody(org) })) as Organization;
      await client.update({ resourceType: 'Organization', id: created.id as string, body: asBody({ ...org, id: created.id, name: 'v2' }) });
      const set = documentSet();
      const since = new Date(Date.now() - 1000).toISOString();
      const entries = [
        ...documentEntries(set),
        { resource: { ...org, id: created.id, name: 'v3' }, request: { method: 'PUT' as const, url: `Organization/${created.id}`, ifMatch: 'W/"1"' } },
      ];
      const outcome = await expectRejected(client.transaction({ body: asBody(transaction(entries)) }), 412, 'PRECONDITION_FAILED');
      expect(locationsOf(outcome)).to.contain('Bundle.entry[4]');
      await expectNothingStored(set, since);
      expect((await read<Organization>(`Organization/${created.id}`)).name).to.equal('v2');
    });

    it('when an entry reads a resource that does not exist, then the whole transaction fails with 404 and stores nothing', async () => {
      const client = await fhirClient();
      const set = documentSet();
      const since = new Date(Date.now() - 1000).toISOString();
      const entries = [...documentEntries(set), { request: { method: 'GET' as const, url: `Patient/${unique('missing')}` } }];
      const outcome = await expectRejected(client.transaction({ body: asBody(transaction(entries)) }), 404, 'NOT_FOUND');
      expect(locationsOf(outcome)).to.contain('Bundle.entry[4]');
      await expectNothingStored(set, since);
    });
  });

  describe('conditional create inside a transaction', () => {
    it('when ifNoneExist matches an existing Patient, then the entry answers 200 with it and references to its urn:uuid point to it', async () => {
      const client = await fhirClient();
      const existing = (await client.create({ resourceType: 'Patient', body: asBody(testPatient()) })) as Patient;
      const ins = existing.identifier?.[0].value as string;
      const set = documentSet();
      const criteria = `identifier=${encodeURIComponent(`${INS_NIR_TEST_SYSTEM}|${ins}`)}`;
      const entries = documentEntries(set);
      entries[0] = post(set.patientUrn, testPatient({ identifier: [{ system: INS_NIR_TEST_SYSTEM, value: ins }] }), criteria);
      const response = (await client.transaction({ body: asBody(transaction(entries)) })) as unknown as Bundle;
      expect(response.entry?.[0].response?.status).to.match(/^200/);
      expect(response.entry?.[0].resource?.id).to.equal(existing.id);
      const doc = await read<DocumentReference>(referenceOf(response.entry?.[2].response?.location));
      expect(doc.subject?.reference).to.equal(`Patient/${existing.id}`);
      expect(await countOf('Patient', criteria)).to.equal(1);
    });

    it('when ifNoneExist matches several resources, then the transaction fails with 412 CONDITIONAL_NOT_SELECTIVE and stores nothing', async () => {
      const client = await fhirClient();
      const family = unique('Twin');
      for (let i = 0; i < 2; i++) {
        await client.create({ resourceType: 'Patient', body: asBody(testPatient({ name: [officialName(family, ['A'])] })) });
      }
      const set = documentSet();
      const since = new Date(Date.now() - 1000).toISOString();
      const entries = documentEntries(set);
      entries[0] = post(set.patientUrn, set.patient, `family=${family}`);
      const outcome = await expectRejected(client.transaction({ body: asBody(transaction(entries)) }), 412, 'CONDITIONAL_NOT_SELECTIVE');
      expect(locationsOf(outcome)).to.contain('Bundle.entry[0]');
      await expectNothingStored(set, since);
    });

    it('when ifNoneExist matches nothing, then the entry creates the resource (201)', async () => {
      const client = await fhirClient();
      const set = documentSet();
      const ins = set.patient.identifier?.[0].value as string;
      const criteria = `identifier=${encodeURIComponent(`${INS_NIR_TEST_SYSTEM}|${ins}`)}`;
      const entries = documentEntries(set);
      entries[0] = post(set.patientUrn, set.patient, criteria);
      const response = (await client.transaction({ body: asBody(transaction(entries)) })) as unknown as Bundle;
      expect(response.entry?.[0].response?.status).to.match(/^201/);
      expect(await countOf('Patient', criteria)).to.equal(1);
    });
  });

  describe('transaction mixing PUT, DELETE and GET', () => {
    let toUpdate: Organization;
    let toDelete: Organization;
    let marker: string;
    let newId: string;
    let response: Bundle;

    before(async () => {
      const client = await fhirClient();
      marker = unique('mix');
      const org = (suffix: string): Organization => ({
        resourceType: 'Organization',
        identifier: [{ system: TEST_ID_SYSTEM, value: `${marker}-${suffix}` }],
        name: `Org ${marker} ${suffix}`,
      });
      toUpdate = (await client.create({ resourceType: 'Organization', body: asBody(org('a')) })) as Organization;
      toDelete = (await client.create({ resourceType: 'Organization', body: asBody(org('b')) })) as Organization;
      newId = unique('org');
      response = (await client.transaction({
        body: asBody(
          transaction([
            { request: { method: 'GET', url: `Organization?identifier=${encodeURIComponent(`${TEST_ID_SYSTEM}|${marker}-a`)}` } },
            { resource: { ...toUpdate, name: `Renamed ${marker}` }, request: { method: 'PUT', url: `Organization/${toUpdate.id}` } },
            { request: { method: 'DELETE', url: `Organization/${toDelete.id}` } },
            { resource: { ...org('c'), id: newId }, request: { method: 'PUT', url: `Organization/${newId}` } },
            { request: { method: 'GET', url: `Organization/${toUpdate.id}` } },
          ])
        ),
      })) as unknown as Bundle;
    });

    it('when a transaction mixes interactions, then every entry answers in request order', () => {
      expect(response.type).to.equal('transaction-response');
      expect(response.entry?.map((e) => e.response?.status.slice(0, 3))).to.deep.equal(['200', '200', '200', '201', '200']);
    });

    it('when a transaction updates with PUT, then that entry carries the new version etag and the update is stored', async () => {
      expect(response.entry?.[1].response?.etag).to.equal('W/"2"');
      const stored = await read<Organization>(`Organization/${toUpdate.id}`);
      expect(stored.name).to.equal(`Renamed ${marker}`);
      expect(stored.meta?.versionId).to.equal('2');
    });

    it('when a transaction PUTs a new id, then it creates the resource at that id', async () => {
      expect(response.entry?.[3].response?.location).to.contain(`Organization/${newId}/_history/1`);
      const stored = await read<Organization>(`Organization/${newId}`);
      expect(stored.name).to.equal(`Org ${marker} c`);
    });

    it('when a transaction deletes, then the resource reads as 410 Gone afterwards', async () => {
      const res = await fhirFetch(`Organization/${toDelete.id}`);
      await expectOutcome(res, 410, 'GONE');
    });

    it('when a transaction holds GET entries, then they run after the writes (search and read see the update)', () => {
      const searchset = response.entry?.[0].resource as Bundle<Organization>;
      expect(searchset.resourceType).to.equal('Bundle');
      expect(searchset.type).to.equal('searchset');
      expect(searchset.entry?.map((e) => e.resource?.name)).to.deep.equal([`Renamed ${marker}`]);
      const read = response.entry?.[4].resource as Organization;
      expect(read.name).to.equal(`Renamed ${marker}`);
    });
  });

  describe('batch', () => {
    let marker: string;
    let response: Bundle;

    before(async () => {
      marker = unique('batch');
      const client = await fhirClient();
      const practitioner = (suffix: string): Practitioner => ({
        resourceType: 'Practitioner',
        identifier: [{ system: TEST_ID_SYSTEM, value: `${marker}-${suffix}` }],
        name: [{ family: `Batch${marker}` }],
      });
      const { birthDate: _omitted, ...invalidPatient } = testPatient();
      response = (await client.batch({
        body: asBody(
          transaction(
            [
              post(urn(), practitioner('1')),
              post(urn(), invalidPatient as Patient),
              post(urn(), practitioner('2')),
              { request: { method: 'GET', url: `Practitioner/${unique('missing')}` } },
            ],
            'batch'
          )
        ),
      })) as unknown as Bundle;
    });

    it('when a batch has a failing entry, then the batch still answers 200 batch-response with one entry per request', () => {
      expect(response.type).to.equal('batch-response');
      expect(response.entry).to.have.length(4);
    });

    it('when a batch entry fails validation, then it answers a 4xx status with its OperationOutcome in response.outcome', () => {
      const failed = response.entry?.[1].response;
      expect(failed?.status).to.match(/^422/);
      const outcome = failed?.outcome as OperationOutcome;
      expect(outcome.resourceType).to.equal('OperationOutcome');
      expect(codesOf(outcome)).to.include(CATALOGUE.PROFILE_VIOLATION.id);
      expect(response.entry?.[1].resource).to.equal(undefined);
    });

    it('when a batch entry reads a missing resource, then that entry answers 404 with an OperationOutcome', () => {
      const missing = response.entry?.[3].response;
      expect(missing?.status).to.match(/^404/);
      expect(codesOf(missing?.outcome as OperationOutcome)).to.include(CATALOGUE.NOT_FOUND.id);
    });

    it('when a batch entry fails, then the other entries are still stored', async () => {
      expect(response.entry?.[0].response?.status).to.match(/^201/);
      expect(response.entry?.[2].response?.status).to.match(/^201/);
      expect(await countOf('Practitioner', `name=Batch${marker}`)).to.equal(2);
    });
  });

  describe('invalid requests', () => {
    it('when a Bundle of type collection is posted, then the answer is 400 INVALID_BUNDLE', async () => {
      const res = await fhirFetch('', {
        method: 'POST',
        body: JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: testPatient() }] }),
      });
      await expectOutcome(res, 400, 'INVALID_BUNDLE');
    });

    it('when a resource other than a Bundle is posted to the base, then the answer is 400 INVALID_BUNDLE', async () => {
      const res = await fhirFetch('', { method: 'POST', body: JSON.stringify(testPatient()) });
      await expectOutcome(res, 400, 'INVALID_BUNDLE');
    });

    it('when a non-object JSON body is posted to the base, then the answer is 400', async () => {
      const res = await fhirFetch('', { method: 'POST', body: JSON.stringify([1, 2, 3]) });
      const outcome = await expectOutcome(res, 400);
      expect(codesOf(outcome).some((c) => c === CATALOGUE.INVALID_BUNDLE.id || c === CATALOGUE.MALFORMED_BODY.id)).to.equal(true);
    });

    it('when a transaction entry has no request, then the answer is 400 INVALID_BUNDLE naming the entry', async () => {
      const res = await fhirFetch('', {
        method: 'POST',
        body: JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [post(urn(), testPatient()), { resource: testPatient() }] }),
      });
      const outcome = await expectOutcome(res, 400, 'INVALID_BUNDLE');
      expect(locationsOf(outcome)).to.contain('Bundle.entry[1]');
    });
  });

  describe('concurrency', () => {
    it('when two transactions conditionally create the same Patient at the same time, then only one Patient is stored', async () => {
      const client = await fhirClient();
      const patient = testPatient();
      const criteria = `identifier=${encodeURIComponent(`${INS_NIR_TEST_SYSTEM}|${patient.identifier?.[0].value}`)}`;
      const sets = [documentSet(), documentSet(), documentSet()];
      const responses = (await Promise.all(
        sets.map((set) => {
          const entries = documentEntries(set);
          entries[0] = post(set.patientUrn, patient, criteria);
          return client.transaction({ body: asBody(transaction(entries)) });
        })
      )) as unknown as Bundle[];
      expect(await countOf('Patient', criteria)).to.equal(1);
      const subjects = new Set<string>();
      for (const response of responses) {
        const doc = await read<DocumentReference>(referenceOf(response.entry?.[2].response?.location));
        subjects.add(doc.subject?.reference as string);
      }
      expect(subjects.size).to.equal(1);
    });

    it('when two transactions run at the same time, then both land completely', async () => {
      const client = await fhirClient();
      const sets = [documentSet(), documentSet()];
      const responses = (await Promise.all(
        sets.map((set) => client.transaction({ body: asBody(transaction(documentEntries(set))) }))
      )) as unknown as Bundle[];
      for (const [i, set] of sets.entries()) {
        expect(responses[i].entry?.map((e) => e.response?.status.slice(0, 3))).to.deep.equal(['201', '201', '201', '201']);
        const ins = set.patient.identifier?.[0].value as string;
        expect(await countOf('Patient', `identifier=${encodeURIComponent(`${INS_NIR_TEST_SYSTEM}|${ins}`)}`)).to.equal(1);
        expect(await countOf('Practitioner', `identifier=${encodeURIComponent(`${TEST_ID_SYSTEM}|prac-${set.marker}`)}`)).to.equal(1);
        const doc = await read<DocumentReference>(referenceOf(responses[i].entry?.[2].response?.location));
        expect(doc.subject?.reference).to.equal(referenceOf(responses[i].entry?.[0].response?.location));
      }
    });
  });
});
