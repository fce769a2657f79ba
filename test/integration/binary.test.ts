import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { Binary, Bundle } from '@medplum/fhirtypes';
import { asBody, expectOutcome, fhirClient, fhirFetch } from '../helpers/fhir.js';
import { rawRequest } from '../helpers/raw-http.js';
import { getTestServer } from '../helpers/server.js';
import { xmlToResource } from '../../src/fhir/xml.js';

/** Bytes that look like a small PDF and are unique to the test. */
function pdfBytes(size = 2048): Buffer {
  return Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(size)]);
}

/** Uploads bytes as a raw Binary (POST /fhir/Binary with their own Content-Type); returns the new id. */
async function uploadRaw(bytes: Buffer, contentType = 'application/pdf'): Promise<{ id: string; res: Response }> {
  const res = await fhirFetch('Binary', { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(bytes) });
  expect(res.status, await res.clone().text()).to.equal(201);
  const location = res.headers.get('location') ?? '';
  const id = /\/Binary\/([^/]+)\/_history\/1$/.exec(location)?.[1];
  expect(id, location).to.be.a('string');
  return { id: id as string, res };
}

describe('Binary: create', () => {
  it('when a Binary is created as FHIR JSON with base64 data through fhir-kit-client, then 201 and it reads back as the same bytes', async () => {
    const bytes = pdfBytes();
    const client = await fhirClient();
    const created = (await client.create({
      resourceType: 'Binary',
      body: asBody<Binary>({ resourceType: 'Binary', contentType: 'application/pdf', data: bytes.toString('base64') }),
    })) as unknown as Binary & { id: string };
    expect(created.id).to.be.a('string');
    expect(created.meta?.versionId).to.equal('1');
    const res = await rawRequest(`Binary/${created.id}`);
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.equal('application/pdf');
    expect(res.body.equals(bytes)).to.equal(true);
  });

  it('when bytes are uploaded raw with Content-Type application/pdf, then 201 with an absolute Location and ETag W/"1"', async () => {
    const { fhirBase } = await getTestServer();
    const { id, res } = await uploadRaw(pdfBytes());
    expect(res.headers.get('location')).to.equal(`${fhirBase}/Binary/${id}/_history/1`);
    expect(res.headers.get('etag')).to.equal('W/"1"');
  });

  it('when bytes are uploaded raw, then the stored Binary has that contentType and those bytes as data', async () => {
    const bytes = pdfBytes();
    const { res } = await uploadRaw(bytes);
    const body = (await res.json()) as Binary;
    expect(body.resourceType).to.equal('Binary');
    expect(body.contentType).to.equal('application/pdf');
    expect(Buffer.from(body.data ?? '', 'base64').equals(bytes)).to.equal(true);
  });

  it('when a Binary in FHIR JSON has data that is not base64, then 400 INVALID_RESOURCE on Binary.data', async () => {
    const res = await fhirFetch('Binary', { method: 'POST', body: JSON.stringify({ resourceType: 'Binary', contentType: 'text/plain', data: 'not base64!' }) });
    const outcome = await expectOutcome(res, 400, 'INVALID_RESOURCE');
    expect(outcome.issue.flatMap((i) => i.expression ?? [])).to.include('Binary.data');
  });

  it('when a FHIR JSON Binary body is over the 2 MiB body limit, then 413 BODY_TOO_LARGE (raw uploads answer to BINARY_MAX_BYTES instead: iti68.test.ts)', async () => {
    const body = JSON.stringify({ resourceType: 'Binary', contentType: 'application/pdf', data: Buffer.alloc(1600 * 1024).toString('base64') });
    const res = await fhirFetch('Binary', { method: 'POST', body });
    await expectOutcome(res, 413, 'BODY_TOO_LARGE');
  });

  it('when a raw upload of about 1.5 MiB is sent, then it is stored and read back byte for byte', async () => {
    const bytes = pdfBytes(1536 * 1024);
    const { id } = await uploadRaw(bytes);
    const res = await rawRequest(`Binary/${id}`, { headers: { accept: 'application/pdf' } });
    expect(res.status).to.equal(200);
    expect(Number(res.headers['content-length'])).to.equal(bytes.length);
    expect(res.body.equals(bytes)).to.equal(true);
  });
});

describe('Binary: read', () => {
  let bytes: Buffer;
  let id: string;
  before(async () => {
    bytes = pdfBytes();
    ({ id } = await uploadRaw(bytes));
  });

  it('when it is read without an Accept header, then the raw bytes come back with Content-Type application/pdf and ETag', async () => {
    const res = await rawRequest(`Binary/${id}`);
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.equal('application/pdf');
    expect(res.headers.etag).to.equal('W/"1"');
    expect(res.body.equals(bytes)).to.equal(true);
  });

  it('when it is read with Accept: application/pdf, then the raw bytes come back with that Content-Type and ETag', async () => {
    const res = await fhirFetch(`Binary/${id}`, { headers: { accept: 'application/pdf' } });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('application/pdf');
    expect(res.headers.get('etag')).to.equal('W/"1"');
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).to.equal(true);
  });

  it('when it is read with Accept: */*, then the raw bytes come back', async () => {
    const res = await fhirFetch(`Binary/${id}`, { headers: { accept: '*/*' } });
    expect(res.headers.get('content-type')).to.equal('application/pdf');
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).to.equal(true);
  });

  for (const how of [{ accept: 'application/fhir+json' }, { accept: 'application/json' }, { accept: '*/*', query: '?_format=json' }]) {
    it(`when it is read with ${how.query ? `_format=json` : `Accept: ${how.accept}`}, then a Binary resource whose data decodes to the same bytes, with ETag`, async () => {
      const res = await fhirFetch(`Binary/${id}${how.query ?? ''}`, { headers: { accept: how.accept } });
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/fhir\+json/);
      expect(res.headers.get('etag')).to.equal('W/"1"');
      const binary = (await res.json()) as Binary;
      expect(binary.resourceType).to.equal('Binary');
      expect(binary.id).to.equal(id);
      expect(binary.contentType).to.equal('application/pdf');
      expect(Buffer.from(binary.data ?? '', 'base64').equals(bytes)).to.equal(true);
    });
  }

  it('when it is read with fhir-kit-client, then the client gets the Binary as JSON', async () => {
    const client = await fhirClient();
    const binary = (await client.read({ resourceType: 'Binary', id })) as unknown as Binary;
    expect(binary.contentType).to.equal('application/pdf');
    expect(Buffer.from(binary.data ?? '', 'base64').equals(bytes)).to.equal(true);
  });

  it('when it is read asking for FHIR XML, then a Binary resource in XML whose data decodes to the same bytes, with ETag', async () => {
    const res = await fhirFetch(`Binary/${id}`, { headers: { accept: 'application/fhir+xml' } });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/fhir\+xml/);
    expect(res.headers.get('etag')).to.equal('W/"1"');
    const binary = xmlToResource(await res.text()) as Binary;
    expect(binary.contentType).to.equal('application/pdf');
    expect(Buffer.from(binary.data ?? '', 'base64').equals(bytes)).to.equal(true);
  });

  it('when it is read with If-None-Match of its version, then 304', async () => {
    const res = await rawRequest(`Binary/${id}`, { headers: { 'if-none-match': 'W/"1"' } });
    expect(res.status).to.equal(304);
    expect(res.body.length).to.equal(0);
  });

  it('when it is searched by _id, then the searchset holds the Binary as JSON', async () => {
    const res = await fhirFetch(`Binary?_id=${id}`, { headers: { accept: '*/*' } });
    expect(res.status).to.equal(200);
    const bundle = (await res.json()) as Bundle<Binary>;
    expect(bundle.entry?.map((e) => e.resource?.id)).to.deep.equal([id]);
    expect(Buffer.from(bundle.entry?.[0].resource?.data ?? '', 'base64').equals(bytes)).to.equal(true);
  });
});

describe('Binary: update and versions', () => {
  it('when a Binary is replaced by a raw PUT, then version 2 serves the new bytes and vread 1 the old ones', async () => {
    const first = pdfBytes();
    const { id } = await uploadRaw(first);
    const second = randomBytes(512);
    const put = await fhirFetch(`Binary/${id}`, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: new Uint8Array(second) });
    expect(put.status, await put.clone().text()).to.equal(200);
    expect(put.headers.get('etag')).to.equal('W/"2"');
    const current = await rawRequest(`Binary/${id}`);
    expect(current.headers['content-type']).to.equal('image/png');
    expect(current.headers.etag).to.equal('W/"2"');
    expect(current.body.equals(second)).to.equal(true);
    const v1 = await rawRequest(`Binary/${id}/_history/1`);
    expect(v1.status).to.equal(200);
    expect(v1.headers['content-type']).to.equal('application/pdf');
    expect(v1.body.equals(first)).to.equal(true);
  });

  it('when a Binary is deleted, then reading it answers 410 GONE as an OperationOutcome, not bytes', async () => {
    const { id } = await uploadRaw(pdfBytes());
    expect((await fhirFetch(`Binary/${id}`, { method: 'DELETE' })).status).to.equal(200);
    await expectOutcome(await fhirFetch(`Binary/${id}`, { headers: { accept: 'application/pdf' } }), 410, 'GONE');
  });
});
