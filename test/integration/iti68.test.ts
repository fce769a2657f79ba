/**
 * IHE MHD ITI-68 Retrieve Document: the consumer GETs `DocumentReference.content.attachment.url`
 * (a Binary of this server) and gets the document's bytes, streamed from the database in chunks,
 * with Content-Type, Content-Length, ETag and Last-Modified; a FHIR format asked gets the Binary
 * resource. Documents above BINARY_MAX_BYTES are refused (413) on every write path. The DMP rules
 * and the audit trail apply to streamed reads as to any read.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Binary, Bundle, DocumentReference, OperationOutcome, Organization, Patient, Resource } from '@medplum/fhirtypes';
import { CONTENT_CHUNK_BYTES } from '../../src/repo/binary-content.js';
import type { Database } from '../../src/repo/pool.js';
import { xmlToResource } from '../../src/fhir/xml.js';
import { startAppWithSettings, type AppWithSettings } from '../helpers/app-with-settings.js';
import { auditEventsOf, authorisation, binaryOf, documentOf, dmpPatient, expectAbsent, expectRefused, json, practitionerRef, professional, professionalToken, type RigProfessional } from '../helpers/dmp-rig.js';
import { asBody, expectOutcome, fhirClient, fhirFetch, testPatient, unique } from '../helpers/fhir.js';
import { rawRequest, type RawResponse } from '../helpers/raw-http.js';
import { CRUD_TEST_SYSTEM, testDocumentReference } from '../helpers/resources.js';
import { getTestServer } from '../helpers/server.js';
import { rigCreate, rigFetch, startSmartRig, type SmartRig } from '../helpers/smart-flow.js';

const MiB = 1024 * 1024;

/** Bytes that start like a PDF and are unique to the test. */
function pdfBytes(size: number): Buffer {
  const head = Buffer.from('%PDF-1.4\n');
  return Buffer.concat([head, randomBytes(size - head.length)]);
}

/** A raw upload (the document as the body, with its own Content-Type) through `send`; returns the new Binary id. */
async function uploadRaw(bytes: Buffer, contentType = 'application/pdf', send: (path: string, init: RequestInit) => Promise<Response> = fhirFetch): Promise<string> {
  const res = await send('Binary', { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(bytes) });
  expect(res.status, await res.clone().text()).to.equal(201);
  const id = /\/Binary\/([^/]+)\/_history\/1$/.exec(res.headers.get('location') ?? '')?.[1];
  expect(id).to.be.a('string');
  return id as string;
}

/** What the database handed out while `run` ran: chunk queries, and the largest bytes value any query returned. */
interface ContentReads<T> {
  readonly result: T;
  readonly chunkQueries: number;
  readonly largestBytesValue: number;
}

/** Watches the shared server's database queries while `run` runs (the tests run one at a time). */
async function watchContentReads<T>(run: () => Promise<T>): Promise<ContentReads<T>> {
  const { db } = await getTestServer();
  const original = db.query;
  let chunkQueries = 0;
  let largestBytesValue = 0;
  const watched = async (sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }> => {
    if (/substring\(bytes from/.test(sql)) {
      chunkQueries++;
    }
    const result = await original.call(db, sql, params);
    for (const row of result.rows as Record<string, unknown>[]) {
      for (const value of Object.values(row)) {
        if (value instanceof Uint8Array) {
          largestBytesValue = Math.max(largestBytesValue, value.byteLength);
        }
      }
    }
    return result as { rows: Record<string, unknown>[] };
  };
  (db as { query: Database['query'] }).query = watched as Database['query'];
  try {
    const result = await run();
    return { result, chunkQueries, largestBytesValue };
  } finally {
    (db as { query: Database['query'] }).query = original;
  }
}

/** The path below /fhir of an attachment.url of the shared server (what rawRequest takes). */
async function pathOf(url: string): Promise<string> {
  const { fhirBase } = await getTestServer();
  expect(url.startsWith(`${fhirBase}/Binary/`), url).to.equal(true);
  return url.slice(fhirBase.length + 1);
}

/** A DocumentReference pointing at a Binary of this server, as MHD stores them; returns its attachment.url as read back. */
async function documentFor(binaryId: string, contentType: string): Promise<string> {
  const { fhirBase } = await getTestServer();
  const client = await fhirClient();
  const patient = (await client.create({ resourceType: 'Patient', body: asBody<Patient>(testPatient()) })) as unknown as Patient & { id: string };
  const doc = testDocumentReference(patient.id);
  doc.content = [{ attachment: { contentType, title: 'document', url: `${fhirBase}/Binary/${binaryId}` } }];
  const created = (await client.create({ resourceType: 'DocumentReference', body: asBody<DocumentReference>(doc) })) as unknown as DocumentReference & { id: string };
  const read = (await client.read({ resourceType: 'DocumentReference', id: created.id })) as unknown as DocumentReference;
  return read.content[0].attachment.url as string;
}

/** A transaction Bundle creating each resource (POST entries with urn:uuid fullUrls). */
function transactionOf(...resources: Resource[]): Bundle {
  return { resourceType: 'Bundle', type: 'transaction', entry: resources.map((resource) => ({ fullUrl: `urn:uuid:${randomUUID()}`, resource, request: { method: 'POST', url: resource.resourceType } })) };
}

function expectBytes(res: RawResponse, bytes: Buffer, contentType: string): void {
  expect(res.status, res.body.subarray(0, 300).toString()).to.equal(200);
  expect(res.headers['content-type']).to.equal(contentType);
  expect(res.headers['content-length']).to.equal(String(bytes.length));
  expect(res.body.equals(bytes)).to.equal(true);
}

function expectBinaryJson(res: RawResponse, bytes: Buffer, contentType: string): void {
  expect(res.status).to.equal(200);
  expect(res.headers['content-type']).to.match(/^application\/fhir\+json/);
  const binary = JSON.parse(res.body.toString('utf8')) as Binary;
  expect(binary.resourceType).to.equal('Binary');
  expect(binary.contentType).to.equal(contentType);
  expect(Buffer.from(binary.data ?? '', 'base64').equals(bytes)).to.equal(true);
}

function expectBinaryXml(res: RawResponse, bytes: Buffer, contentType: string): void {
  expect(res.status).to.equal(200);
  expect(res.headers['content-type']).to.match(/^application\/fhir\+xml/);
  const binary = xmlToResource(res.body.toString('utf8')) as Binary;
  expect(binary.resourceType).to.equal('Binary');
  expect(binary.contentType).to.equal(contentType);
  expect(Buffer.from(binary.data ?? '', 'base64').equals(bytes)).to.equal(true);
}

describe('ITI-68 Retrieve Document: the content streamed from the database', () => {
  const big = pdfBytes(5 * MiB);
  let id: string;
  let url: string;

  before(async function () {
    this.timeout(60_000);
    id = await uploadRaw(big);
    url = await documentFor(id, 'application/pdf');
  });

  it('when a 5 MiB document is retrieved at its attachment.url, then its bytes come back exact with Content-Type, Content-Length, ETag and Last-Modified', async () => {
    const res = await rawRequest(await pathOf(url), { headers: { accept: 'application/pdf' } });
    expectBytes(res, big, 'application/pdf');
    expect(res.headers.etag).to.equal('W/"1"');
    expect(Date.parse(res.headers['last-modified'] ?? '')).to.be.greaterThan(Date.now() - 10 * 60_000);
  });

  it('when a 5 MiB document is retrieved, then it is read in 5 chunk queries of at most 1 MiB and no query hands out more than one chunk', async () => {
    const reads = await watchContentReads(() => rawRequest(`Binary/${id}`, { headers: { accept: 'application/pdf' } }));
    expect(reads.result.body.equals(big)).to.equal(true);
    expect(CONTENT_CHUNK_BYTES).to.equal(MiB);
    expect(reads.chunkQueries).to.equal(5);
    expect(reads.largestBytesValue).to.be.at.most(CONTENT_CHUNK_BYTES);
  });

  it('when it is retrieved with If-None-Match of its current ETag, then 304 with no body and no content read', async () => {
    const reads = await watchContentReads(() => rawRequest(`Binary/${id}`, { headers: { accept: 'application/pdf', 'if-none-match': 'W/"1"' } }));
    expect(reads.result.status).to.equal(304);
    expect(reads.result.headers.etag).to.equal('W/"1"');
    expect(reads.result.body.length).to.equal(0);
    expect(reads.chunkQueries).to.equal(0);
  });

  it('when a new version replaces the content, then the read streams the new bytes (ETag W/"2", the old ETag no longer 304) and vread 1 still streams the old ones', async () => {
    const versioned = await uploadRaw(pdfBytes(2 * MiB + 10));
    const second = pdfBytes(MiB + 1);
    const put = await fhirFetch(`Binary/${versioned}`, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: new Uint8Array(second) });
    expect(put.status, await put.clone().text()).to.equal(200);
    const current = await rawRequest(`Binary/${versioned}`, { headers: { 'if-none-match': 'W/"1"' } });
    expectBytes(current, second, 'image/png');
    expect(current.headers.etag).to.equal('W/"2"');
    const reads = await watchContentReads(() => rawRequest(`Binary/${versioned}/_history/1`, { headers: { accept: '*/*' } }));
    expect(reads.result.status).to.equal(200);
    expect(reads.result.headers['content-type']).to.equal('application/pdf');
    expect(reads.result.headers.etag).to.equal('W/"1"');
    expect(reads.result.body.length).to.equal(2 * MiB + 10);
    expect(reads.chunkQueries).to.equal(3);
  });

  it('when a Binary without data is retrieved, then 200 with Content-Length 0 and its content type', async () => {
    const res = await fhirFetch('Binary', { method: 'POST', body: JSON.stringify({ resourceType: 'Binary', contentType: 'text/plain' }) });
    const empty = (await json<Binary>(res, 201)).id as string;
    const read = await rawRequest(`Binary/${empty}`);
    expectBytes(read, Buffer.alloc(0), 'text/plain');
  });
});

describe('ITI-68 and the plain Binary read: one Accept rule (README, "Choices")', () => {
  const pdf = pdfBytes(3000);
  const cda = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"><title>${unique('CR ')}</title></ClinicalDocument>`);
  let pdfPath: string;
  let cdaPath: string;

  before(async () => {
    pdfPath = await pathOf(await documentFor(await uploadRaw(pdf), 'application/pdf'));
    cdaPath = await pathOf(await documentFor(await uploadRaw(cda, 'text/xml'), 'text/xml'));
  });

  const pdfCases: { accept?: string; query?: string; expected: 'bytes' | 'json' | 'xml' }[] = [
    { accept: 'application/pdf', expected: 'bytes' },
    { accept: '*/*', expected: 'bytes' },
    { expected: 'bytes' },
    { accept: 'application/fhir+json;q=0.5, application/pdf', expected: 'bytes' },
    { accept: 'application/fhir+json', expected: 'json' },
    { accept: 'application/json', expected: 'json' },
    { accept: 'application/pdf', query: '_format=json', expected: 'json' },
    { accept: 'application/fhir+xml', expected: 'xml' },
    { accept: 'application/xml', expected: 'xml' },
  ];
  for (const c of pdfCases) {
    const how = [c.accept ? `Accept: ${c.accept}` : 'no Accept', c.query].filter(Boolean).join(' and ');
    const what = { bytes: 'the PDF bytes', json: 'the Binary resource in FHIR JSON', xml: 'the Binary resource in FHIR XML' }[c.expected];
    it(`when a PDF document is retrieved with ${how}, then ${what}, with ETag W/"1"`, async () => {
      const res = await rawRequest(`${pdfPath}${c.query ? `?${c.query}` : ''}`, { headers: c.accept ? { accept: c.accept } : {} });
      expect(res.headers.etag).to.equal('W/"1"');
      if (c.expected === 'bytes') expectBytes(res, pdf, 'application/pdf');
      if (c.expected === 'json') expectBinaryJson(res, pdf, 'application/pdf');
      if (c.expected === 'xml') expectBinaryXml(res, pdf, 'application/pdf');
    });
  }

  it('when a CDA (text/xml) is retrieved with Accept: text/xml, then the CDA itself comes back', async () => {
    expectBytes(await rawRequest(cdaPath, { headers: { accept: 'text/xml' } }), cda, 'text/xml');
  });

  it('when a CDA is retrieved with Accept: application/fhir+xml, then the Binary resource in FHIR XML', async () => {
    expectBinaryXml(await rawRequest(cdaPath, { headers: { accept: 'application/fhir+xml' } }), cda, 'text/xml');
  });

  it('when only a format this server does not serve is accepted (text/html), then 406 NOT_ACCEPTABLE', async () => {
    const res = await rawRequest(pdfPath, { headers: { accept: 'text/html' } });
    expect(res.status).to.equal(406);
    expect((JSON.parse(res.body.toString('utf8')) as OperationOutcome).resourceType).to.equal('OperationOutcome');
  });
});

describe('document size limit (BINARY_MAX_BYTES = 64 KiB, MAX_BODY_BYTES = 1 MiB)', () => {
  const LIMIT = 64 * 1024;
  let app: AppWithSettings;

  before(async () => {
    app = await startAppWithSettings({ BINARY_MAX_BYTES: String(LIMIT), MAX_BODY_BYTES: String(MiB) });
  });
  after(async () => {
    await app?.close();
  });

  /** Runs `write` and checks that no Binary version was stored meanwhile. */
  async function expectNoBinaryStored(write: () => Promise<void>): Promise<void> {
    // Same clock as the server's lastUpdated (one process).
    const since = new Date().toISOString();
    await write();
    const history = await json<Bundle>(await app.fetch(`Binary/_history?_since=${encodeURIComponent(since)}&_count=10`), 200);
    expect(history.entry ?? []).to.have.length(0);
  }

  async function expectTooLarge(res: Response, expression: string): Promise<void> {
    const outcome = await expectOutcome(res, 413, 'BINARY_TOO_LARGE');
    expect(outcome.issue[0].expression).to.deep.equal([expression]);
    expect(outcome.issue[0].details?.text).to.contain(String(LIMIT));
  }

  it('when a document of exactly the limit is uploaded raw, then it is stored and reads back whole', async () => {
    const bytes = pdfBytes(LIMIT);
    const id = await uploadRaw(bytes, 'application/pdf', (p, i) => app.fetch(p, i));
    const res = await app.fetch(`Binary/${id}`, { headers: { accept: 'application/pdf' } });
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).to.equal(true);
  });

  it('when a raw upload (POST) is one byte over the limit, then 413 BINARY_TOO_LARGE and nothing is stored', async () => {
    await expectNoBinaryStored(async () => {
      const res = await app.fetch('Binary', { method: 'POST', headers: { 'content-type': 'application/pdf' }, body: new Uint8Array(pdfBytes(LIMIT + 1)) });
      await expectTooLarge(res, 'Binary');
    });
  });

  it('when a raw update (PUT) is over the limit, then 413 and the Binary stays at version 1 with its bytes', async () => {
    const bytes = pdfBytes(1000);
    const id = await uploadRaw(bytes, 'application/pdf', (p, i) => app.fetch(p, i));
    const res = await app.fetch(`Binary/${id}`, { method: 'PUT', headers: { 'content-type': 'application/pdf' }, body: new Uint8Array(pdfBytes(LIMIT + 1)) });
    await expectTooLarge(res, 'Binary');
    const read = await app.fetch(`Binary/${id}`, { headers: { accept: 'application/pdf' } });
    expect(read.headers.get('etag')).to.equal('W/"1"');
    expect(Buffer.from(await read.arrayBuffer()).equals(bytes)).to.equal(true);
  });

  it('when a FHIR JSON Binary carries exactly the limit, then 201; one byte more, then 413 on Binary.data and nothing is stored', async () => {
    const ok = await app.fetch('Binary', { method: 'POST', body: JSON.stringify({ resourceType: 'Binary', contentType: 'application/pdf', data: pdfBytes(LIMIT).toString('base64') }) });
    expect(ok.status, await ok.clone().text()).to.equal(201);
    await expectNoBinaryStored(async () => {
      const res = await app.fetch('Binary', { method: 'POST', body: JSON.stringify({ resourceType: 'Binary', contentType: 'application/pdf', data: pdfBytes(LIMIT + 1).toString('base64') }) });
      await expectTooLarge(res, 'Binary.data');
    });
  });

  it('when a FHIR XML Binary carries a document over the limit, then 413 BINARY_TOO_LARGE and nothing is stored', async () => {
    const xml = `<Binary xmlns="http://hl7.org/fhir"><contentType value="application/pdf"/><data value="${pdfBytes(LIMIT + 1).toString('base64')}"/></Binary>`;
    await expectNoBinaryStored(async () => {
      const res = await app.fetch('Binary', { method: 'POST', headers: { 'content-type': 'application/fhir+xml', accept: 'application/fhir+json' }, body: xml });
      await expectTooLarge(res, 'Binary');
    });
  });

  it('when a transaction Bundle carries a Binary entry over the limit, then 413 naming the entry and no entry is stored', async () => {
    const orgId = unique('org');
    const bundle = transactionOf(
      { resourceType: 'Organization', name: 'Cabinet', identifier: [{ system: CRUD_TEST_SYSTEM, value: orgId }] } as Organization,
      { resourceType: 'Binary', contentType: 'application/pdf', data: pdfBytes(LIMIT + 1).toString('base64') } as Binary
    );
    await expectNoBinaryStored(async () => {
      await expectTooLarge(await app.fetch('', { method: 'POST', body: JSON.stringify(bundle) }), 'Bundle.entry[1].resource.data');
    });
    const orgs = await json<Bundle>(await app.fetch(`Organization?identifier=${encodeURIComponent(`${CRUD_TEST_SYSTEM}|${orgId}`)}`), 200);
    expect(orgs.entry ?? []).to.have.length(0);
  });

  it('when a DocumentReference carries its document in attachment.data (ITI-105) over the limit, then 413 on that attachment and nothing is stored', async () => {
    const patient = await json<Patient & { id: string }>(await app.fetch('Patient', { method: 'POST', body: JSON.stringify(testPatient()) }), 201);
    const doc = testDocumentReference(patient.id);
    doc.content = [{ attachment: { contentType: 'application/pdf', title: 'small.pdf', data: pdfBytes(100).toString('base64') } }, { attachment: { contentType: 'application/pdf', title: 'big.pdf', data: pdfBytes(LIMIT + 1).toString('base64') } }];
    await expectTooLarge(await app.fetch('DocumentReference', { method: 'POST', body: JSON.stringify(doc) }), 'DocumentReference.content[1].attachment.data');
    await expectTooLarge(await app.fetch('', { method: 'POST', body: JSON.stringify(transactionOf(doc)) }), 'Bundle.entry[0].resource.content[1].attachment.data');
    const identifier = doc.identifier?.[0];
    const found = await json<Bundle>(await app.fetch(`DocumentReference?patient=${patient.id}&identifier=${encodeURIComponent(`${identifier?.system}|${identifier?.value}`)}`), 200);
    expect(found.entry ?? []).to.have.length(0);
  });

  it('when a FHIR JSON body is over MAX_BODY_BYTES, then the body limit answers first, also as a 413 OperationOutcome (BODY_TOO_LARGE)', async () => {
    const body = JSON.stringify({ resourceType: 'Binary', contentType: 'application/pdf', data: pdfBytes(MiB).toString('base64') });
    await expectNoBinaryStored(async () => {
      await expectOutcome(await app.fetch('Binary', { method: 'POST', body }), 413, 'BODY_TOO_LARGE');
    });
  });
});

describe('ITI-68 under the DMP rules (SMART rig, real professional tokens)', function () {
  this.timeout(120_000);
  let rig: SmartRig;
  let patientId: string;
  const pros = {} as Record<'authorised' | 'unauthorised', RigProfessional>;
  const tokens = {} as Record<'authorised' | 'unauthorised', string>;
  const content = pdfBytes(MiB + 4096);
  let binaryId: string;
  let maskedBinaryId: string;

  before(async () => {
    rig = await startSmartRig();
    const patient = await dmpPatient(rig);
    patientId = patient.id;
    pros.authorised = await professional(rig, { profession: '10', speciality: 'SM54' });
    pros.unauthorised = await professional(rig, { profession: '10', speciality: 'SM54' });
    await rigCreate(rig, authorisation(patientId, practitionerRef(pros.authorised.practitionerId)));
    const doc = await rigCreate(rig, documentOf(patientId));
    const binary = await rigCreate<Binary>(rig, { resourceType: 'Binary', contentType: 'application/pdf', securityContext: { reference: `DocumentReference/${doc.id}` }, data: content.toString('base64') });
    binaryId = binary.id;
    const masked = await rigCreate(rig, documentOf(patientId, { labels: ['MASQUE_PS'] }));
    maskedBinaryId = (await binaryOf(rig, masked.id, unique('masked content '))).id;
    tokens.authorised = await professionalToken(rig, pros.authorised, patientId);
    tokens.unauthorised = await professionalToken(rig, pros.unauthorised, patientId);
  });
  after(async () => {
    await rig?.close();
  });

  it('when a professional the patient did not authorise retrieves the content, then 403 not-authorised as an OperationOutcome, no byte of it, and the refusal is traced', async () => {
    const requestId = unique('req-iti68-denied-');
    const res = await rigFetch(rig, `Binary/${binaryId}`, tokens.unauthorised, { headers: { accept: 'application/pdf', 'x-request-id': requestId } });
    expect(res.headers.get('content-type')).to.match(/^application\/fhir\+json/);
    await expectRefused(res, 'not-authorised');
    const [event] = await auditEventsOf(rig, patientId, requestId);
    expect(event?.outcome).to.equal('4');
  });

  it('when the authorised professional retrieves it, then the bytes stream back whole and the read is in the audit trail (outcome 0)', async () => {
    const requestId = unique('req-iti68-allowed-');
    const res = await rigFetch(rig, `Binary/${binaryId}`, tokens.authorised, { headers: { accept: 'application/pdf', 'x-request-id': requestId } });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-length')).to.equal(String(content.length));
    expect(Buffer.from(await res.arrayBuffer()).equals(content)).to.equal(true);
    const [event] = await auditEventsOf(rig, patientId, requestId);
    expect(event?.outcome).to.equal('0');
    expect(event?.entity?.map((e) => e.what?.reference)).to.include(`Binary/${binaryId}`);
  });

  it('when the content of a document masked from professionals is retrieved, then it is absent (404), even for the authorised professional', async () => {
    await expectAbsent(await rigFetch(rig, `Binary/${maskedBinaryId}`, tokens.authorised, { headers: { accept: 'application/pdf' } }));
  });
});
