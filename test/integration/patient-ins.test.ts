import { expect } from 'chai';
import type { Bundle } from '@medplum/fhirtypes';
import { INS_NIR_TEST_SYSTEM } from '../../src/dmp/identifiers.js';
import { makeTestIns } from '../../src/dmp/ins.js';
import { expectOutcome, fhirFetch, officialName, testPatient, unique } from '../helpers/fhir.js';

async function countByFamily(family: string): Promise<number> {
  const res = await fhirFetch(`Patient?family:exact=${family}&_summary=count`);
  return ((await res.json()) as Bundle).total as number;
}

describe('Patient INS identifiers are checked (15 characters, Corsica rule, key)', () => {
  const cases: [string, string, string][] = [
    ['a wrong key', '180017512300046', 'key'],
    ['14 characters', '18001751230004', '15 characters'],
    ['a letter outside the Corsica positions', '1800175123000X5', 'digits only'],
  ];
  for (const [what, value, text] of cases) {
    it(`when a Patient carries an INS with ${what}, then 422 INVALID_INS points at the value and nothing is stored`, async () => {
      const family = unique('Ins');
      const patient = testPatient({ identifier: [{ system: INS_NIR_TEST_SYSTEM, value }], name: [officialName(family, ['Jean'])] });
      const outcome = await expectOutcome(await fhirFetch('Patient', { method: 'POST', body: JSON.stringify(patient) }), 422, 'INVALID_INS');
      expect(outcome.issue[0].expression).to.deep.equal(['Patient.identifier[0].value']);
      expect(outcome.issue[0].details?.text).to.contain(text);
      expect(await countByFamily(family)).to.equal(0);
    });
  }

  it('when a Patient born in Corsica carries a valid 2A INS, then it is stored', async () => {
    const ins = makeTestIns(1, '81', '11', '2A004', String(Math.floor(Math.random() * 900) + 100));
    const res = await fhirFetch('Patient', { method: 'POST', body: JSON.stringify(testPatient({ identifier: [{ system: INS_NIR_TEST_SYSTEM, value: ins }] })) });
    expect(res.status).to.equal(201);
  });

  it('when an identifier of another system is not an INS, then it is not checked as one', async () => {
    const patient = testPatient();
    patient.identifier = [...(patient.identifier ?? []), { system: 'urn:test:local-mrn', value: 'ABC' }];
    expect((await fhirFetch('Patient', { method: 'POST', body: JSON.stringify(patient) })).status).to.equal(201);
  });
});
