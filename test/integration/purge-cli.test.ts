/**
 * `npm run purge` as a child process, on its own embedded database (a PGlite folder the test fills
 * first, then hands over: PGlite serves one process at a time): the clock is set with --now.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Patient } from '@medplum/fhirtypes';
import { closureReason, withClosure } from '../../src/dmp/closure.js';
import { loadBaseDefinitions } from '../../src/fhir/definitions.js';
import { migrate } from '../../src/repo/migrations/index.js';
import { openDatabase } from '../../src/repo/pool.js';
import { ResourceRepo } from '../../src/repo/resource-repo.js';
import { testPatient } from '../helpers/fhir.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

function purge(dataDir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { DATABASE_URL: _ignored, ...env } = process.env;
  return new Promise((resolve) => {
    execFile('npx', ['tsx', 'scripts/purge.ts', ...args], { cwd: REPO_ROOT, env: { ...env, DATA_DIR: dataDir, LOG_LEVEL: 'silent' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0, stdout, stderr });
    });
  });
}

async function withRepo<T>(dataDir: string, fn: (repo: ResourceRepo) => Promise<T>): Promise<T> {
  const db = await openDatabase({ dataDir, poolSize: 1 });
  try {
    await migrate(db);
    return await fn(new ResourceRepo(db));
  } finally {
    await db.close();
  }
}

describe('npm run purge (scripts/purge.ts as a child process)', function () {
  this.timeout(120_000);
  let dataDir: string;
  const ids = {} as { closed: string; open: string };

  before(async () => {
    loadBaseDefinitions();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-purge-cli-'));
    await withRepo(dataDir, async (repo) => {
      const closed = withClosure(testPatient(), { date: '2020-03-01T10:00:00Z', reason: closureReason('patient-demande') });
      ids.closed = (await repo.create('Patient', closed)).id as string;
      ids.open = ((await repo.create('Patient', testPatient())) as Patient).id as string;
    });
  });

  after(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('when --now is not a date, then it exits 2 with the usage', async () => {
    const run = await purge(dataDir, ['--now', 'tomorrow']);
    expect(run.code).to.equal(2);
    expect(run.stderr).to.contain('--now must be an ISO 8601 instant');
  });

  it('when the retention has not ended at --now, then nothing is purged', async () => {
    const run = await purge(dataDir, ['--now', '2029-03-01T00:00:00Z']);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.contain('0 closed DMP(s) purged, 1 still within retention');
  });

  it('when --dry-run is given after the retention, then it names the record but erases nothing; the real run erases only the closed one', async () => {
    const dry = await purge(dataDir, ['--now', '2031-01-01T00:00:00Z', '--dry-run']);
    expect(dry.code, dry.stderr).to.equal(0);
    expect(dry.stdout).to.contain(`1 closed DMP(s) would be purged: ${ids.closed}`);
    const run = await purge(dataDir, ['--now', '2031-01-01T00:00:00Z']);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.contain(`purged Patient/${ids.closed}`);
    const left = await withRepo(dataDir, async (repo) => ({ closed: await repo.read('Patient', ids.closed), open: await repo.read('Patient', ids.open) }));
    expect(left.closed).to.equal(undefined);
    expect(left.open?.resource?.id).to.equal(ids.open);
  });
});
