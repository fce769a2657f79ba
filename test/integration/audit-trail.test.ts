import { expect } from 'chai';
import type { AuditEvent, Bundle, Patient } from '@medplum/fhirtypes';
import { verifyChain } from '../../src/audit/audit-writer.js';
import { CHAIN_HASH_URL } from '../../src/audit/audit-event.js';
import { ResourceRepo } from '../../src/repo/resource-repo.js';
import { fhirFetch, testPatient, unique } from '../helpers/fhir.js';
import { getTestServer, systemToken } from '../helpers/server.js';

/** The AuditEvents about a patient written for one request (found by its X-Request-Id). */
async function eventsFor(patientId: string, requestId: string): Promise<AuditEvent[]> {
  const res = await fhirFetch(`AuditEvent?patient=${patientId}&_count=100`);
  expect(res.status).to.equal(200);
  const bundle = (await res.json()) as Bundle<AuditEvent>;
  return (bundle.entry ?? [])
    .map((e) => e.resource as AuditEvent)
    .filter((e) => e.entity?.some((en) => en.what?.identifier?.value === `urn:x-request-id:${requestId}`));
}

describe('audit trail on every interaction (BALP)', () => {
  let patient: Patient & { id: string };

  before(async () => {
    const res = await fhirFetch('Patient', { method: 'POST', body: JSON.stringify(testPatient()) });
    expect(res.status).to.equal(201);
    patient = (await res.json()) as Patient & { id: string };
  });

  it('when a Patient is read, then one AuditEvent (read, success) names the patient, the resource, the client and the request id', async () => {
    const requestId = unique('req-');
    expect((await fhirFetch(`Patient/${patient.id}`, { headers: { 'x-request-id': requestId } })).status).to.equal(200);
    const [event, ...more] = await eventsFor(patient.id, requestId);
    expect(more).to.have.length(0);
    expect(event.subtype?.[0].code).to.equal('read');
    expect(event.action).to.equal('R');
    expect(event.outcome).to.equal('0');
    expect(event.entity?.map((e) => e.what?.reference)).to.include(`Patient/${patient.id}`);
    expect(event.agent?.[0].who?.identifier?.value).to.equal('test-backend');
    expect(event.extension?.find((e) => e.url === CHAIN_HASH_URL)?.valueString).to.match(/^[0-9a-f]{64}$/);
  });

  it('when a search returns a patient\'s resources, then an AuditEvent (search-type) carries the base64 query', async () => {
    const requestId = unique('req-');
    expect((await fhirFetch(`Patient?_id=${patient.id}`, { headers: { 'x-request-id': requestId } })).status).to.equal(200);
    const [event] = await eventsFor(patient.id, requestId);
    expect(event.subtype?.[0].code).to.equal('search-type');
    expect(event.action).to.equal('E');
    const query = event.entity?.find((e) => e.query)?.query as string;
    expect(Buffer.from(query, 'base64').toString('utf8')).to.contain(`_id=${patient.id}`);
  });

  it('when a resource of the patient is created, then its AuditEvent (create) is stored with it', async () => {
    const requestId = unique('req-');
    const doc = {
      resourceType: 'List',
      status: 'current',
      mode: 'working',
      subject: { reference: `Patient/${patient.id}` },
    };
    const res = await fhirFetch('List', { method: 'POST', body: JSON.stringify(doc), headers: { 'x-request-id': requestId } });
    expect(res.status).to.equal(201);
    const created = (await res.json()) as { id: string };
    const [event] = await eventsFor(patient.id, requestId);
    expect(event.action).to.equal('C');
    expect(event.entity?.map((e) => e.what?.reference)).to.include(`List/${created.id}`);
  });

  it('when a request is refused for lack of scope, then the refusal is traced with its reason', async () => {
    const requestId = unique('req-');
    const token = await systemToken('system/Patient.r');
    const res = await fhirFetch(`Patient/${patient.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'x-request-id': requestId } });
    expect(res.status).to.equal(403);
    const [event] = await eventsFor(patient.id, requestId);
    expect(event.subtype?.[0].code).to.equal('delete');
    expect(event.outcome).to.equal('4');
    expect(event.outcomeDesc).to.contain('DMPF-0062');
  });

  it('when many reads arrive at once (their traces written together), then each is traced once and the chain stays intact', async () => {
    const ids = Array.from({ length: 12 }, () => unique('req-'));
    const answers = await Promise.all(ids.map((requestId) => fhirFetch(`Patient/${patient.id}`, { headers: { 'x-request-id': requestId } })));
    expect(answers.map((a) => a.status)).to.deep.equal(ids.map(() => 200));
    for (const requestId of ids) {
      expect(await eventsFor(patient.id, requestId), requestId).to.have.length(1);
    }
    const { db } = await getTestServer();
    expect((await verifyChain(new ResourceRepo(db), patient.id)).valid).to.equal(true);
  });

  it('when Patient/{id}/$verify-audit is called, then it answers that the chain is valid, with its length', async () => {
    const res = await fhirFetch(`Patient/${patient.id}/$verify-audit`);
    expect(res.status).to.equal(200);
    const params = (await res.json()) as { resourceType: string; parameter: { name: string; valueBoolean?: boolean; valueInteger?: number }[] };
    expect(params.resourceType).to.equal('Parameters');
    expect(params.parameter.find((p) => p.name === 'valid')?.valueBoolean).to.equal(true);
    expect(params.parameter.find((p) => p.name === 'count')?.valueInteger).to.be.greaterThan(3);
  });

  it('when an AuditEvent of the patient is altered behind the server, then $verify-audit reports the chain broken', async () => {
    const { db } = await getTestServer();
    const other = (await (await fhirFetch('Patient', { method: 'POST', body: JSON.stringify(testPatient()) })).json()) as { id: string };
    await fhirFetch(`Patient/${other.id}`);
    await db.query(`UPDATE res_auditevent SET content = jsonb_set(content, '{outcome}', '"8"') WHERE patient_id = $1`, [other.id]);
    const res = await fhirFetch(`Patient/${other.id}/$verify-audit`);
    const params = (await res.json()) as { parameter: { name: string; valueBoolean?: boolean }[] };
    expect(params.parameter.find((p) => p.name === 'valid')?.valueBoolean).to.equal(false);
  });

  it('when the patient\'s trail is checked, then its hash chain is intact', async () => {
    const { db } = await getTestServer();
    const result = await verifyChain(new ResourceRepo(db), patient.id);
    expect(result.valid).to.equal(true);
    expect(result.count).to.be.greaterThan(3);
  });
});
