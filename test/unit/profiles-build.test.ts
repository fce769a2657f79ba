import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { StructureDefinition } from '@medplum/fhirtypes';
import { MHD_PROFILE_URLS, PROFILE_URLS } from '../../src/fhir/validate.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COMMITTED_DIR = path.join(REPO_ROOT, 'profiles', 'generated');

function jsonFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
}

describe('profiles build (SUSHI, offline)', function () {
  // Unpacking the FHIR core package into .fhir-cache/ the first time, then SUSHI: a few seconds.
  this.timeout(300_000);
  let outDir: string;

  before(function () {
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-profiles-'));
    const script = path.join(REPO_ROOT, 'scripts', 'profiles', 'build.ts');
    const run = spawnSync(process.execPath, ['--import', 'tsx', script, '--out', outDir, '--quiet'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect(run.status, `${run.stdout}\n${run.stderr}`).to.equal(0);
  });

  after(function () {
    fs.rmSync(outDir, { recursive: true, force: true });
  });

  it('produces exactly the committed profiles/generated JSON (run npm run profiles:build if not)', function () {
    const built = jsonFiles(outDir);
    expect(built).to.deep.equal(jsonFiles(COMMITTED_DIR));
    for (const name of built) {
      const fresh = fs.readFileSync(path.join(outDir, name), 'utf8');
      const committed = fs.readFileSync(path.join(COMMITTED_DIR, name), 'utf8');
      expect(fresh === committed, `${name} differs from a fresh build`).to.equal(true);
    }
  });

  it('gives every generated StructureDefinition a snapshot', function () {
    for (const name of jsonFiles(COMMITTED_DIR)) {
      const sd = JSON.parse(fs.readFileSync(path.join(COMMITTED_DIR, name), 'utf8')) as StructureDefinition;
      expect(sd.resourceType).to.equal('StructureDefinition');
      expect(sd.snapshot?.element?.length, `${name} has no snapshot`).to.be.greaterThan(0);
      expect(sd.differential?.element?.length, `${name} has no differential`).to.be.greaterThan(0);
    }
  });

  it('generates one profile per PROFILE_URLS and MHD_PROFILE_URLS entry, at its canonical url', function () {
    const urls = jsonFiles(COMMITTED_DIR).map(
      (name) => (JSON.parse(fs.readFileSync(path.join(COMMITTED_DIR, name), 'utf8')) as StructureDefinition).url
    );
    expect(urls.sort()).to.deep.equal([...Object.values(PROFILE_URLS), ...Object.values(MHD_PROFILE_URLS)].sort());
  });
});
