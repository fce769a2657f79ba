import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Bundle, BundleEntry, DocumentReference, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { INS_NIR_TEST_SYSTEM } from '../../src/dmp/identifiers.js';
import { expectOutcome, fhirFetch, testPatient, unique } from '../helpers/fhir.js';
import { testDocumentReference, testList } from '../helpers/resources.js';

const TEST_ID_SYSTEM = 'urn:test:bindings';

/** Bundle.total of a search scoped by the caller to its own data. */
async function countOf(type: string, query: string): Promise<number> {
  const res = await fhirFetch(`${type}?${query}&_summary=count`);
  expect(res.status).to.equal(200);
  return ((await res.json()) as Bundle).total as number;
}

function insQuery(patient: Patient): string {
  return `identifier=${encodeURIComponent(`${INS_NIR_TEST_SYSTEM}|${patient.identifier?.[0].value}`)}`;
}

async function post(type: string, resource: object): Promise<Response> {
  return fhirFetch(type, { method: 'POST', body: JSON.stringify(resource) });
}

/** The issue whose expression is exactly `expression`, if any. */
function issueAt(outcome: OperationOutcome, expression: string): OperationOutcome['issue'][number] | undefined {
  return outcome.issue.find((i) => i.expression?.includes(expression));
}

describe('required value-set bindings over HTTP', () => {
  it('when a Patient is POSTed with gender "feminine", then the answer is 400 INVALID_RESOURCE at Patient.gender and nothing is stored', async () => {
    const patient = testPatient({ gender: 'feminine' as Patient['gender'] });
    const outcome = await expectOutcome(await post('Patient', patient), 400, 'INVALID_RESOURCE');
    const issue = issueAt(outcome, 'Patient.gender');
    expect(issue, JSON.stringify(outcome)).to.not.equal(undefined);
    expect(issue?.code).to.equal('code-invalid');
    expect(issue?.details?.text).to.contain('feminine');
    expect(await countOf('Patient', insQuery(patient))).to.equal(0);
  });

  it('when a Patient is POSTed with a wrong HumanName.use, then the answer is 400 naming Patient.name[0].use', async () => {
    const patient = testPatient();
    patient.name = [{ use: 'legal' as 'official', family: unique('Fam') }];
    const outcome = await expectOutcome(await post('Patient', patient), 400, 'INVALID_RESOURCE');
    expect(issueAt(outcome, 'Patient.name[0].use'), JSON.stringify(outcome)).to.not.equal(undefined);
    expect(await countOf('Patient', insQuery(patient))).to.equal(0);
  });

  it('when a Patient is POSTed with valid codes in its data types, then it is created (201)', async () => {
    const patient = testPatient({
      telecom: [{ system: 'email', value: `${unique('p')}@example.org`, use: 'home' }],
      address: [{ use: 'home', type: 'physical', city: 'Paris' }],
    });
    const res = await post('Patient', patient);
    expect(res.status, await res.clone().text()).to.equal(201);
    expect(await countOf('Patient', insQuery(patient))).to.equal(1);
  });

  it('when an existing Patient is updated with a wrong gender, then the answer is 400 and the stored version is unchanged', async () => {
    const created = await post('Patient', testPatient());
    expect(created.status).to.equal(201);
    const stored = (await created.json()) as Patient & { id: string };
    const res = await fhirFetch(`Patient/${stored.id}`, { method: 'PUT', body: JSON.stringify({ ...stored, gender: 'F' }) });
    await expectOutcome(res, 400, 'INVALID_RESOURCE');
    const read = (await (await fhirFetch(`Patient/${stored.id}`)).json()) as Patient;
    expect(read.meta?.versionId).to.equal('1');
    expect(read.gender).to.equal(stored.gender);
  });

  it('when a List is POSTed with a wrong mode, then the answer is 400 INVALID_RESOURCE at List.mode', async () => {
    const { subject: _subject, ...list } = { ...testList('unused'), mode: 'draft' };
    const outcome = await expectOutcome(await post('List', list), 400, 'INVALID_RESOURCE');
    expect(issueAt(outcome, 'List.mode'), JSON.stringify(outcome)).to.not.equal(undefined);
  });

  it('when a transaction holds a DocumentReference with status "bogus", then it is rejected at that entry and nothing is stored', async () => {
    const patientUrn = `urn:uuid:${randomUUID()}`;
    const patient = testPatient();
    const docMarker = unique('doc');
    const document: DocumentReference = {
      ...testDocumentReference('placeholder'),
      identifier: [{ system: TEST_ID_SYSTEM, value: docMarker }],
      status: 'bogus' as DocumentReference['status'],
      subject: { reference: patientUrn },
    };
    const entry: BundleEntry[] = [
      { fullUrl: patientUrn, resource: patient, request: { method: 'POST', url: 'Patient' } },
      { fullUrl: `urn:uuid:${randomUUID()}`, resource: document, request: { method: 'POST', url: 'DocumentReference' } },
    ];
    const res = await fhirFetch('', { method: 'POST', body: JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry }) });
    const outcome = await expectOutcome(res, 400, 'INVALID_RESOURCE');
    expect(issueAt(outcome, 'Bundle.entry[1].resource.status'), JSON.stringify(outcome)).to.not.equal(undefined);
    expect(await countOf('Patient', insQuery(patient))).to.equal(0);
    expect(await countOf('DocumentReference', `identifier=${encodeURIComponent(`${TEST_ID_SYSTEM}|${docMarker}`)}`)).to.equal(0);
  });

  it('when a batch holds one entry with a wrong code, then only that entry fails (400) and the other is stored', async () => {
    const good = testPatient();
    const bad = testPatient({ gender: 'feminine' as Patient['gender'] });
    const entry: BundleEntry[] = [
      { resource: good, request: { method: 'POST', url: 'Patient' } },
      { resource: bad, request: { method: 'POST', url: 'Patient' } },
    ];
    const res = await fhirFetch('', { method: 'POST', body: JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry }) });
    expect(res.status).to.equal(200);
    const response = (await res.json()) as Bundle;
    expect(response.entry?.[0].response?.status).to.match(/^201/);
    expect(response.entry?.[1].response?.status).to.match(/^400/);
    expect(await countOf('Patient', insQuery(good))).to.equal(1);
    expect(await countOf('Patient', insQuery(bad))).to.equal(0);
  });
});
