import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Binary, Bundle, DocumentReference, List, OperationOutcome, Parameters, Patient, Resource } from '@medplum/fhirtypes';
import { CATALOGUE, ERROR_CODE_SYSTEM, type ErrorKind } from '../../src/fhir/outcomes.js';
import { resourceToXml, xmlToResource } from '../../src/fhir/xml.js';
import { expectOutcome, fhirFetch, officialName, testPatient, unique } from '../helpers/fhir.js';
import { rawRequest } from '../helpers/raw-http.js';
import { provideDocumentBundle } from '../helpers/mhd.js';
import { CRUD_TEST_SYSTEM, testDocumentReference } from '../helpers/resources.js';

const FHIR_XML = 'application/fhir+xml';
const XML_CONTENT_TYPE = 'application/fhir+xml; charset=utf-8';

/** fetch() asking for FHIR XML; a string body is sent as FHIR XML unless the request says otherwise. */
function xmlFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('accept')) {
    headers.set('accept', FHIR_XML);
  }
  if (typeof init.body === 'string' && !headers.has('content-type')) {
    headers.set('content-type', FHIR_XML);
  }
  return fhirFetch(path, { ...init, headers });
}

/** Reads an XML answer: status, Content-Type, and the resource back through the converter. */
async function readXml<T extends Resource>(res: Response, status: number): Promise<{ text: string; resource: T }> {
  const text = await res.text();
  expect(res.status, text).to.equal(status);
  expect(res.headers.get('content-type')).to.equal(XML_CONTENT_TYPE);
  return { text, resource: xmlToResource(text) as T };
}

/** Asserts an OperationOutcome answered in XML with this status and catalogue code. */
async function expectXmlOutcome(res: Response, status: number, kind: ErrorKind): Promise<OperationOutcome> {
  const { text, resource } = await readXml<OperationOutcome>(res, status);
  expect(text).to.match(/<OperationOutcome xmlns="http:\/\/hl7\.org\/fhir">/);
  const codes = resource.issue.flatMap((i) => i.details?.coding ?? []).filter((c) => c.system === ERROR_CODE_SYSTEM).map((c) => c.code);
  expect(codes, text).to.include(CATALOGUE[kind].id);
  return resource;
}

async function createJson<T extends Resource>(resource: T): Promise<T & { id: string }> {
  const res = await fhirFetch(resource.resourceType, { method: 'POST', body: JSON.stringify(resource) });
  expect(res.status, await res.clone().text()).to.equal(201);
  return (await res.json()) as T & { id: string };
}

async function readJson<T extends Resource>(reference: string): Promise<T> {
  const res = await fhirFetch(reference);
  expect(res.status, reference).to.equal(200);
  return (await res.json()) as T;
}

/** `Type/id` from a `Type/id/_history/n` location (relative or absolute). */
function referenceOf(location: string | null | undefined): string {
  const m = /([A-Za-z]+\/[^/]+)\/_history\/\d+$/.exec(location ?? '');
  expect(m, `location ${location}`).to.not.equal(null);
  return (m as RegExpExecArray)[1];
}

/** A resource as sent, without what the server adds (id, meta). */
function withoutServerFields<T extends Resource>(resource: T): Omit<T, 'id' | 'meta'> {
  const { id: _id, meta: _meta, ...rest } = resource;
  return rest;
}

describe('FHIR XML: reads', () => {
  let patient: Patient & { id: string };
  let document: DocumentReference & { id: string };

  before(async () => {
    patient = await createJson<Patient>(
      testPatient({
        text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml"><p>Jeanne &amp; <b>Marie</b></p></div>' },
        birthDate: '1980-04-12',
        _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '1980-04-12T10:30:00+01:00' }] },
      } as Partial<Patient>)
    );
    document = await createJson<DocumentReference>({ ...testDocumentReference(patient.id), description: 'Compte rendu "urgent" <CR> & suite' });
  });

  it('when a Patient is read in XML, then it converts back to the JSON read, with the same ETag and Last-Modified', async () => {
    const res = await xmlFetch(`Patient/${patient.id}`);
    const { resource } = await readXml<Patient>(res, 200);
    const jsonRes = await fhirFetch(`Patient/${patient.id}`);
    expect(resource).to.deep.equal(await jsonRes.json());
    expect(res.headers.get('etag')).to.equal('W/"1"');
    expect(res.headers.get('last-modified')).to.equal(jsonRes.headers.get('last-modified'));
  });

  it('when a Patient is read in XML, then the XML is FHIR XML: root in the FHIR namespace, value attributes, primitive extensions, XHTML narrative', async () => {
    const { text } = await readXml<Patient>(await xmlFetch(`Patient/${patient.id}`), 200);
    expect(text).to.match(/^<\?xml version="1\.0" encoding="UTF-8"\?><Patient xmlns="http:\/\/hl7\.org\/fhir"><id value="[^"]+"\/>/);
    expect(text).to.contain(`<id value="${patient.id}"/>`);
    expect(text).to.contain('<gender value="female"/>');
    expect(text).to.contain(`<family value="${patient.name?.[0].family}"/>`);
    expect(text).to.contain(
      '<birthDate value="1980-04-12"><extension url="http://hl7.org/fhir/StructureDefinition/patient-birthTime"><valueDateTime value="1980-04-12T10:30:00+01:00"/></extension></birthDate>'
    );
    expect(text).to.contain('<div xmlns="http://www.w3.org/1999/xhtml"><p>Jeanne &amp; <b>Marie</b></p></div>');
  });

  it('when a DocumentReference is read in XML, then it converts back to the JSON read and its text is escaped', async () => {
    const { text, resource } = await readXml<DocumentReference>(await xmlFetch(`DocumentReference/${document.id}`), 200);
    expect(resource).to.deep.equal(await readJson(`DocumentReference/${document.id}`));
    expect(text).to.match(/<DocumentReference xmlns="http:\/\/hl7\.org\/fhir">/);
    expect(text).to.contain('<description value="Compte rendu &quot;urgent&quot; &lt;CR&gt; &amp; suite"/>');
    expect(text).to.contain(`<subject><reference value="Patient/${patient.id}"/></subject>`);
  });

  it('when a search asks for XML, then the searchset Bundle comes in XML with the same entries as in JSON', async () => {
    const query = `DocumentReference?subject=Patient/${patient.id}&_include=DocumentReference:subject`;
    const { text, resource } = await readXml<Bundle>(await xmlFetch(query), 200);
    const json = await readJson<Bundle>(query);
    expect(text).to.match(/<Bundle xmlns="http:\/\/hl7\.org\/fhir">/);
    expect(resource.type).to.equal('searchset');
    expect(resource.total).to.equal(1);
    expect(resource.entry?.map((e) => e.resource)).to.deep.equal(json.entry?.map((e) => e.resource));
    expect(resource.entry?.map((e) => e.search?.mode)).to.deep.equal(['match', 'include']);
    expect(resource.link?.find((l) => l.relation === 'self')?.url).to.be.a('string');
  });

  it('when _format=xml is given with Accept: application/fhir+json, then _format wins and the answer is XML', async () => {
    const { resource } = await readXml<Patient>(await fhirFetch(`Patient/${patient.id}?_format=xml`, { headers: { accept: 'application/fhir+json' } }), 200);
    expect(resource.id).to.equal(patient.id);
  });

  it('when a history is asked in XML, then the history Bundle comes in XML', async () => {
    const { resource } = await readXml<Bundle>(await xmlFetch(`Patient/${patient.id}/_history`), 200);
    expect(resource.type).to.equal('history');
    expect(resource.entry?.[0].resource?.id).to.equal(patient.id);
  });

  it('when If-None-Match names the current version of a resource asked in XML, then 304 with no body', async () => {
    const res = await rawRequest(`Patient/${patient.id}`, { headers: { accept: FHIR_XML, 'if-none-match': 'W/"1"' } });
    expect(res.status).to.equal(304);
    expect(res.body.length).to.equal(0);
  });
});

describe('FHIR XML: writes', () => {
  it('when a Patient is posted in XML, then 201 with Location and ETag, and the JSON read equals what was sent', async () => {
    const sent = testPatient({ telecom: [{ system: 'phone', value: '+33 1 23 45 67 89' }], active: true });
    const res = await fhirFetch('Patient', { method: 'POST', headers: { 'content-type': FHIR_XML }, body: resourceToXml(sent) });
    expect(res.status, await res.clone().text()).to.equal(201);
    expect(res.headers.get('etag')).to.equal('W/"1"');
    const reference = referenceOf(res.headers.get('location'));
    const stored = await readJson<Patient>(reference);
    expect(withoutServerFields(stored)).to.deep.equal(sent);
  });

  it('when an XML Patient laid out by hand (comments, indentation, xsi attributes, accents) is posted as text/xml, then it is stored as its JSON form', async () => {
    const sent = testPatient({ name: [officialName(unique('Xml'), ['Élise', 'Anne'])] });
    const xml = resourceToXml(sent)
      .replace('<Patient xmlns="http://hl7.org/fhir">', '<!-- laid out by hand --><Patient xmlns="http://hl7.org/fhir" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://hl7.org/fhir patient.xsd">')
      .replace('<identifier>', '<!-- the INS --><identifier>')
      .replace(/></g, '>\n  <');
    const res = await fhirFetch('Patient', { method: 'POST', headers: { 'content-type': 'text/xml', accept: FHIR_XML }, body: xml });
    const { resource } = await readXml<Patient>(res, 201);
    expect(resource.name?.[0].given).to.deep.equal(['Élise']);
    const stored = await readJson<Patient>(referenceOf(res.headers.get('location')));
    expect(withoutServerFields(stored)).to.deep.equal(sent);
  });

  it('when a Patient is updated with an XML body, then version 2 holds the change', async () => {
    const created = await createJson<Patient>(testPatient());
    const changed: Patient = { ...created, gender: 'other' };
    const res = await xmlFetch(`Patient/${created.id}`, { method: 'PUT', body: resourceToXml(changed) });
    const { resource } = await readXml<Patient>(res, 200);
    expect(resource.meta?.versionId).to.equal('2');
    expect(res.headers.get('etag')).to.equal('W/"2"');
    expect((await readJson<Patient>(`Patient/${created.id}`)).gender).to.equal('other');
  });

  it('when a write in XML asks Prefer: return=minimal, then no body comes back but Location and ETag do', async () => {
    const res = await xmlFetch('Patient', { method: 'POST', headers: { prefer: 'return=minimal' }, body: resourceToXml(testPatient()) });
    expect(res.status).to.equal(201);
    expect(await res.text()).to.equal('');
    expect(res.headers.get('etag')).to.equal('W/"1"');
    referenceOf(res.headers.get('location'));
  });

  it('when a DocumentReference is patched with a FHIRPath Patch Parameters in XML, then 200 with the patched version in XML', async () => {
    const owner = await createJson<Patient>(testPatient());
    const document = await createJson<DocumentReference>(testDocumentReference(owner.id));
    const patch = {
      resourceType: 'Parameters',
      parameter: [{ name: 'operation', part: [{ name: 'type', valueCode: 'replace' }, { name: 'path', valueString: 'DocumentReference.status' }, { name: 'value', valueCode: 'superseded' }] }],
    } as Parameters;
    const res = await xmlFetch(`DocumentReference/${document.id}`, { method: 'PATCH', body: resourceToXml(patch) });
    const { resource } = await readXml<DocumentReference>(res, 200);
    expect(resource.status).to.equal('superseded');
    expect(res.headers.get('etag')).to.equal('W/"2"');
    expect((await readJson<DocumentReference>(`DocumentReference/${document.id}`)).status).to.equal('superseded');
  });

  it('when $validate gets a valid Patient in XML, then 200 with an informational OperationOutcome in XML', async () => {
    const { resource } = await readXml<OperationOutcome>(await xmlFetch('Patient/$validate', { method: 'POST', body: resourceToXml(testPatient()) }), 200);
    expect(resource.issue[0].severity).to.equal('information');
  });

  it('when $validate gets a Parameters in XML whose Patient has a bad INS, then 422 INVALID_INS in XML', async () => {
    const bad = testPatient();
    const identifier = bad.identifier?.[0];
    const value = identifier?.value as string;
    bad.identifier = [{ ...identifier, value: `${value.slice(0, 13)}${value.slice(13) === '00' ? '01' : '00'}` }];
    const parameters = { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: bad }] } as Resource;
    const res = await xmlFetch('Patient/$validate', { method: 'POST', body: resourceToXml(parameters) });
    await expectXmlOutcome(res, 422, 'INVALID_INS');
  });
});

describe('FHIR XML: an MHD ITI-65 transaction (List + DocumentReference + Binary)', () => {
  let patient: Patient & { id: string };
  let response: Bundle;
  let text: string;
  const marker = unique('mhd');
  const bytes = Buffer.from(`Compte rendu ${marker}`);

  before(async () => {
    patient = await createJson<Patient>(testPatient());
    const { bundle } = provideDocumentBundle({ reference: `Patient/${patient.id}` }, [bytes.toString('utf8')]);
    const res = await xmlFetch('', { method: 'POST', body: resourceToXml(bundle) });
    ({ text, resource: response } = await readXml<Bundle>(res, 200));
  });

  it('when the transaction is posted in XML, then a transaction-response Bundle comes in XML with 201 for each entry', () => {
    expect(text).to.match(/^<\?xml[^>]*\?><Bundle xmlns="http:\/\/hl7\.org\/fhir">/);
    expect(text).to.contain('<type value="transaction-response"/>');
    expect(response.type).to.equal('transaction-response');
    expect(response.entry?.map((e) => e.response?.status?.slice(0, 3))).to.deep.equal(['201', '201', '201']);
  });

  it('when the transaction has run, then the urn:uuid links in the XML were rewritten to the stored List, DocumentReference and Binary', async () => {
    const [listRef, documentRef, binaryRef] = (response.entry ?? []).map((e) => referenceOf(e.response?.location));
    const list = await readJson<List>(listRef);
    expect(list.entry?.[0].item.reference).to.equal(documentRef);
    const document = await readJson<DocumentReference>(documentRef);
    expect(document.content[0].attachment.url).to.match(new RegExp(`${binaryRef}$`));
    expect(document.content[0].attachment.size).to.equal(bytes.length);
    const raw = await rawRequest(binaryRef, { headers: { accept: '*/*' } });
    expect(raw.headers['content-type']).to.equal('text/plain');
    expect(raw.body.equals(bytes)).to.equal(true);
  });
});

describe('FHIR XML: Binary', () => {
  const cda = `<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"><title>CR ${unique('cda')}</title></ClinicalDocument>`;
  let id: string;

  before(async () => {
    const res = await fhirFetch('Binary', { method: 'POST', headers: { 'content-type': 'text/xml' }, body: cda });
    expect(res.status, await res.clone().text()).to.equal(201);
    id = referenceOf(res.headers.get('location')).split('/')[1];
  });

  it('when an XML document (a CDA) is uploaded raw as text/xml, then it is stored as the Binary content, not parsed as FHIR', async () => {
    const binary = await readJson<Binary>(`Binary/${id}`);
    expect(binary.contentType).to.equal('text/xml');
    expect(Buffer.from(binary.data ?? '', 'base64').toString('utf8')).to.equal(cda);
  });

  it('when that Binary is read with Accept: text/xml, then the CDA itself comes back (MHD retrieve document)', async () => {
    const res = await rawRequest(`Binary/${id}`, { headers: { accept: 'text/xml' } });
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.equal('text/xml');
    expect(res.body.toString('utf8')).to.equal(cda);
  });

  it('when that Binary is read with Accept: application/fhir+xml, then the Binary resource comes in FHIR XML with its ETag', async () => {
    const res = await xmlFetch(`Binary/${id}`);
    const { resource } = await readXml<Binary>(res, 200);
    expect(res.headers.get('etag')).to.equal('W/"1"');
    expect(resource.contentType).to.equal('text/xml');
    expect(Buffer.from(resource.data ?? '', 'base64').toString('utf8')).to.equal(cda);
  });

  it('when a Binary resource is posted as FHIR XML, then its content is the decoded data, not the XML text', async () => {
    const bytes = Buffer.from(`pdf-ish ${unique('bin')}`);
    const body = resourceToXml({ resourceType: 'Binary', contentType: 'application/pdf', data: bytes.toString('base64') } as Binary);
    const res = await fhirFetch('Binary', { method: 'POST', headers: { 'content-type': FHIR_XML }, body });
    expect(res.status, await res.clone().text()).to.equal(201);
    const raw = await rawRequest(referenceOf(res.headers.get('location')), { headers: { accept: '*/*' } });
    expect(raw.headers['content-type']).to.equal('application/pdf');
    expect(raw.body.equals(bytes)).to.equal(true);
  });
});

describe('FHIR XML: errors', () => {
  it('when the XML body is not well-formed, then 400 MALFORMED_BODY in XML saying where', async () => {
    const res = await xmlFetch('Patient', { method: 'POST', body: '<Patient xmlns="http://hl7.org/fhir"><gender value="female"/>' });
    const outcome = await expectXmlOutcome(res, 400, 'MALFORMED_BODY');
    expect(outcome.issue[0].details?.text).to.match(/not well-formed XML.*line 1, column \d+/);
  });

  it('when the XML body is not well-formed and JSON is accepted, then the same 400 comes in JSON', async () => {
    const res = await fhirFetch('Patient', { method: 'POST', headers: { 'content-type': FHIR_XML }, body: '<Patient xmlns="http://hl7.org/fhir"><gender value="female"></Patient>' });
    await expectOutcome(res, 400, 'MALFORMED_BODY');
  });

  it('when the XML root is not a FHIR resource (a CDA posted as a Patient), then 400 saying so', async () => {
    const res = await xmlFetch('Patient', { method: 'POST', body: '<ClinicalDocument xmlns="urn:hl7-org:v3"/>' });
    const outcome = await expectXmlOutcome(res, 400, 'MALFORMED_BODY');
    expect(outcome.issue[0].details?.text).to.contain('not in the FHIR namespace');
  });

  it('when the XML names an element FHIR does not have, then 400 with the element in expression and nothing is created', async () => {
    const patient = testPatient();
    const xml = resourceToXml(patient).replace('<gender value="female"/>', '<gendre value="female"/>');
    const res = await xmlFetch('Patient', { method: 'POST', body: xml });
    const outcome = await expectXmlOutcome(res, 400, 'MALFORMED_BODY');
    expect(outcome.issue[0].expression).to.deep.equal(['Patient.gendre[0]']);
    const identifier = patient.identifier?.[0];
    const count = await readJson<Bundle>(`Patient?identifier=${encodeURIComponent(`${identifier?.system}|${identifier?.value}`)}&_summary=count`);
    expect(count.total).to.equal(0);
  });

  it('when a transaction in XML holds a resource the profiles refuse, then the error in XML names the entry and nothing is stored', async () => {
    const marker = unique('bad');
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: `urn:uuid:${randomUUID()}`, resource: { resourceType: 'Patient', identifier: [{ system: CRUD_TEST_SYSTEM, value: marker }] }, request: { method: 'POST', url: 'Patient' } },
      ],
    };
    const outcome = await readXml<OperationOutcome>(await xmlFetch('', { method: 'POST', body: resourceToXml(bundle) }), 422);
    expect(JSON.stringify(outcome.resource.issue)).to.contain('Bundle.entry[0]');
    const count = await readJson<Bundle>(`Patient?identifier=${encodeURIComponent(`${CRUD_TEST_SYSTEM}|${marker}`)}&_summary=count`);
    expect(count.total).to.equal(0);
  });

  it('when a resource asked in XML does not exist, then 404 NOT_FOUND in XML', async () => {
    await expectXmlOutcome(await xmlFetch(`Patient/${unique('missing')}`), 404, 'NOT_FOUND');
  });

  it('when a request asking for XML has no token, then 401 in XML with WWW-Authenticate', async () => {
    const res = await fhirFetch('Patient', { anonymous: true, headers: { accept: FHIR_XML } });
    await expectXmlOutcome(res, 401, 'UNAUTHORIZED');
    expect(res.headers.get('www-authenticate')).to.match(/^Bearer/);
  });

  it('when only Turtle is accepted, then 406 NOT_ACCEPTABLE in JSON', async () => {
    await expectOutcome(await fhirFetch('Patient', { headers: { accept: 'text/turtle' } }), 406, 'NOT_ACCEPTABLE');
  });

  it('when a body comes in a Content-Type the server does not parse, then 415 UNSUPPORTED_MEDIA_TYPE (in XML when XML is accepted)', async () => {
    const res = await xmlFetch('Patient', { method: 'POST', headers: { 'content-type': 'text/turtle' }, body: '@prefix fhir: <http://hl7.org/fhir/> .' });
    const outcome = await expectXmlOutcome(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(outcome.issue[0].details?.text).to.contain('application/fhir+xml');
  });
});
