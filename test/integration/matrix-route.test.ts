/**
 * The habilitation matrix served read-only as FHIR: GET /fhir/ConceptMap/dmp-habilitation-matrix
 * (src/http/routes/matrix.ts, mounted in app.ts after `authenticate`, before the generic /fhir routes).
 */
import fs from 'node:fs';
import { expect } from 'chai';
import type { ConceptMap } from '@medplum/fhirtypes';
import { HABILITATION_MATRIX_URL, HabilitationMatrix } from '../../src/policy/habilitation-matrix.js';
import { expectOutcome, fhirFetch } from '../helpers/fhir.js';
import { xmlToResource } from '../../src/fhir/xml.js';
import { getTestServer } from '../helpers/server.js';

const PATH = 'ConceptMap/dmp-habilitation-matrix';

describe('habilitation matrix as a FHIR ConceptMap (GET /fhir/ConceptMap/dmp-habilitation-matrix)', () => {
  it('when a client with a token reads it, then it gets the configured ConceptMap as FHIR JSON', async () => {
    const { config } = await getTestServer();
    const res = await fhirFetch(PATH);
    const text = await res.text();
    expect(res.status, text).to.equal(200);
    expect(res.headers.get('content-type')).to.contain('application/fhir+json');
    const served = JSON.parse(text) as ConceptMap;
    const file = JSON.parse(fs.readFileSync(config.policy.matrixFile, 'utf8')) as ConceptMap;
    expect(served.resourceType).to.equal('ConceptMap');
    expect(served.id).to.equal('dmp-habilitation-matrix');
    expect(served.url).to.equal(HABILITATION_MATRIX_URL);
    expect(served.group).to.deep.equal(file.group);
    expect(served.extension, 'the provenance travels with it').to.deep.equal(file.extension);
  });

  it('when the served ConceptMap is read back as a matrix, then it gives the rules the server enforces', async () => {
    const { config } = await getTestServer();
    const served = (await (await fhirFetch(PATH)).json()) as ConceptMap;
    const matrix = new HabilitationMatrix(served);
    expect(matrix.professions()).to.deep.equal(config.policy.matrix.professions());
    expect(matrix.documentTypes()).to.deep.equal(config.policy.matrix.documentTypes());
    for (const profession of matrix.professions()) {
      expect(matrix.readableTypes(profession, undefined), profession).to.deep.equal(config.policy.matrix.readableTypes(profession, undefined));
    }
  });

  it('when it is read, then the answer carries a weak ETag equal to meta.versionId and a Last-Modified date', async () => {
    const res = await fhirFetch(PATH);
    const served = (await res.json()) as ConceptMap;
    expect(served.meta?.versionId).to.match(/^[0-9a-f]{16}$/);
    expect(res.headers.get('etag')).to.equal(`W/"${served.meta?.versionId}"`);
    expect(Number.isNaN(Date.parse(res.headers.get('last-modified') ?? ''))).to.equal(false);
  });

  it('when it is read twice, then the ETag is the same', async () => {
    const first = await fhirFetch(PATH);
    await first.body?.cancel();
    const second = await fhirFetch(PATH);
    await second.body?.cancel();
    expect(second.headers.get('etag')).to.equal(first.headers.get('etag'));
  });

  it('when the client sends its ETag in If-None-Match, then the answer is 304 without a body', async () => {
    const first = await fhirFetch(PATH);
    await first.body?.cancel();
    const etag = first.headers.get('etag') as string;
    const res = await fhirFetch(PATH, { headers: { 'if-none-match': etag } });
    expect(res.status).to.equal(304);
    expect(await res.text()).to.equal('');
    expect(res.headers.get('etag')).to.equal(etag);
  });

  it('when the client sends another ETag in If-None-Match, then the answer is 200 with the ConceptMap', async () => {
    const res = await fhirFetch(PATH, { headers: { 'if-none-match': 'W/"0000000000000000"' } });
    expect(res.status).to.equal(200);
    expect(((await res.json()) as ConceptMap).resourceType).to.equal('ConceptMap');
  });

  it('when the request has no bearer token, then the answer is 401 with WWW-Authenticate', async () => {
    const res = await fhirFetch(PATH, { anonymous: true });
    expect(res.headers.get('www-authenticate') ?? '').to.match(/^Bearer/);
    await expectOutcome(res, 401, 'UNAUTHORIZED');
  });

  it('when the bearer token is not valid, then the answer is 401', async () => {
    const res = await fhirFetch(PATH, { headers: { authorization: 'Bearer not-a-token' } });
    await expectOutcome(res, 401, 'UNAUTHORIZED');
  });

  for (const method of ['PUT', 'POST', 'DELETE', 'PATCH']) {
    it(`when a client sends ${method} to it, then the answer is 405 with an OperationOutcome and Allow: GET, HEAD`, async () => {
      const served = (await (await fhirFetch(PATH)).json()) as ConceptMap;
      const body = method === 'PUT' || method === 'POST' ? JSON.stringify({ ...served, group: [] }) : undefined;
      const res = await fhirFetch(PATH, { method, body });
      expect(res.headers.get('allow')).to.equal('GET, HEAD');
      await expectOutcome(res, 405, 'METHOD_NOT_ALLOWED');
      const after = (await (await fhirFetch(PATH)).json()) as ConceptMap;
      expect(after.group, 'unchanged').to.deep.equal(served.group);
    });
  }

  it('when the client asks for XML, then the same ConceptMap comes as FHIR XML', async () => {
    const res = await fhirFetch(`${PATH}?_format=xml`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/fhir\+xml/);
    const json = (await (await fhirFetch(PATH)).json()) as ConceptMap;
    expect(xmlToResource(await res.text())).to.deep.equal(json);
  });

  it('when the client asks for Turtle, then the answer is 406', async () => {
    const res = await fhirFetch(`${PATH}?_format=ttl`);
    await expectOutcome(res, 406, 'NOT_ACCEPTABLE');
  });

  it('when another ConceptMap id is read, then the generic FHIR routes answer 404', async () => {
    const res = await fhirFetch('ConceptMap/some-other-map');
    expect(res.status).to.equal(404);
    await res.body?.cancel();
  });
});
