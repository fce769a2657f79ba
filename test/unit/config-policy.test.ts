import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { DEFAULT_MATRIX_FILE } from '../../src/policy/habilitation-matrix.js';
import { LOINC_SYSTEM, PROFESSION_SYSTEM } from '../../src/dmp/identifiers.js';

/** The settings of the DMP access rules: HABILITATION_MATRIX_FILE and INVISIBLE_PATIENT_DELAY_DAYS. */
describe('config: policy settings', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-config-policy-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const write = (name: string, content: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    return file;
  };
  const annex = {
    resourceType: 'ConceptMap',
    status: 'active',
    group: [{ source: LOINC_SYSTEM, target: PROFESSION_SYSTEM, element: [{ code: '11488-4', target: [{ code: '60', equivalence: 'equivalent' }] }] }],
  };

  it('when nothing is set, then the shipped matrix is loaded and the INVISIBLE_PATIENT delay is 30 days', () => {
    const { policy } = loadConfig({});
    expect(policy.matrixFile).to.equal(DEFAULT_MATRIX_FILE);
    expect(path.relative(process.cwd(), policy.matrixFile)).to.equal(path.join('profiles', 'habilitation-matrix.json'));
    expect(policy.matrix.mayRead('10', undefined, 'ATTEST-RESID')).to.deep.equal({ allow: false, reason: 'matrix-forbids' });
    expect(policy.invisiblePatientDelayDays).to.equal(30);
  });

  it('when HABILITATION_MATRIX_FILE names another valid ConceptMap, then its rules are the ones loaded', () => {
    const file = write('annex.json', JSON.stringify(annex));
    const { policy } = loadConfig({ HABILITATION_MATRIX_FILE: file });
    expect(policy.matrixFile).to.equal(file);
    expect(policy.matrix.mayRead('60', undefined, '11488-4')).to.deep.equal({ allow: true });
    expect(policy.matrix.knowsProfession('10')).to.equal(false);
  });

  it('when HABILITATION_MATRIX_FILE is relative, then it is resolved from the working directory', () => {
    const file = write('relative.json', JSON.stringify(annex));
    const { policy } = loadConfig({ HABILITATION_MATRIX_FILE: path.relative(process.cwd(), file) });
    expect(policy.matrixFile).to.equal(file);
  });

  it('when HABILITATION_MATRIX_FILE does not exist, then loading the settings fails naming the file and the setting', () => {
    const missing = path.join(dir, 'missing.json');
    expect(() => loadConfig({ HABILITATION_MATRIX_FILE: missing })).to.throw(ConfigError, /missing\.json.*cannot be read.*HABILITATION_MATRIX_FILE/);
  });

  it('when HABILITATION_MATRIX_FILE is not a usable matrix, then loading the settings fails saying why', () => {
    const file = write('patient.json', JSON.stringify({ resourceType: 'Patient' }));
    expect(() => loadConfig({ HABILITATION_MATRIX_FILE: file })).to.throw(ConfigError, /patient\.json: is not a FHIR ConceptMap/);
  });

  it('when INVISIBLE_PATIENT_DELAY_DAYS is set within 1..365, then it is used', () => {
    expect(loadConfig({ INVISIBLE_PATIENT_DELAY_DAYS: '7' }).policy.invisiblePatientDelayDays).to.equal(7);
    expect(loadConfig({ INVISIBLE_PATIENT_DELAY_DAYS: '365' }).policy.invisiblePatientDelayDays).to.equal(365);
  });

  for (const bad of ['0', '366', '2.5', 'thirty', '-1']) {
    it(`when INVISIBLE_PATIENT_DELAY_DAYS is "${bad}", then loading the settings fails naming the setting and its range`, () => {
      expect(() => loadConfig({ INVISIBLE_PATIENT_DELAY_DAYS: bad })).to.throw(ConfigError, /INVISIBLE_PATIENT_DELAY_DAYS must be an integer between 1 and 365/);
    });
  }
});
