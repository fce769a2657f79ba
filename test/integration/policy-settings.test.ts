import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { spawnServer, waitForExit } from '../helpers/child-server.js';

/** A bad HABILITATION_MATRIX_FILE stops the real server at startup, with a message naming the file and the setting. */
describe('policy settings at startup (real server process)', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-policy-settings-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('when HABILITATION_MATRIX_FILE is not a ConceptMap, then the server exits with code 2 and says what is wrong', async () => {
    const file = path.join(dir, 'not-a-matrix.json');
    fs.writeFileSync(file, JSON.stringify({ resourceType: 'Patient' }));
    const child = await spawnServer({ HABILITATION_MATRIX_FILE: file, DATA_DIR: path.join(dir, 'data') });
    const exit = await waitForExit(child, 20_000);
    expect(exit.code, child.stderr.join('\n')).to.equal(2);
    const stderr = child.stderr.join('\n');
    expect(stderr).to.contain('Invalid configuration');
    expect(stderr).to.contain(file);
    expect(stderr).to.contain('is not a FHIR ConceptMap');
    expect(stderr).to.contain('HABILITATION_MATRIX_FILE');
  });

  it('when INVISIBLE_PATIENT_DELAY_DAYS is out of range, then the server exits with code 2 naming the setting', async () => {
    const child = await spawnServer({ INVISIBLE_PATIENT_DELAY_DAYS: '0', DATA_DIR: path.join(dir, 'data') });
    const exit = await waitForExit(child, 20_000);
    expect(exit.code, child.stderr.join('\n')).to.equal(2);
    expect(child.stderr.join('\n')).to.contain('INVISIBLE_PATIENT_DELAY_DAYS must be an integer between 1 and 365');
  });
});
