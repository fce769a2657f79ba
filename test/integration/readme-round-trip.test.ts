/**
 * The README's ITI-65 / ITI-67 / ITI-68 curl round trip, run as written (bash, curl, openssl, node)
 * against the real server started like `npm start` (child process, embedded database, demo data);
 * only its address is changed, from http://localhost:8080 to the test server's.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { killServer, spawnServer, waitUntilReady, type ChildServer } from '../helpers/child-server.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The shell block that follows "A round trip with curl" in the README. */
function roundTripScript(): string {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const from = readme.indexOf('A round trip with curl');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(from));
  if (from < 0 || !block) throw new Error('README: the round trip block is missing');
  return block[1];
}

function bash(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: REPO_ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('README: the ITI-65 / ITI-67 / ITI-68 round trip with curl', function () {
  this.timeout(180_000);
  let server: ChildServer;
  let dataDir: string;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-readme-'));
    server = await spawnServer({ DATA_DIR: dataDir, SEED_DEMO_DATA: 'true' });
    await waitUntilReady(server, 120_000);
  });

  after(async () => {
    await killServer(server);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('when the README script runs, then the document it submitted comes back byte for byte', async () => {
    const script = roundTripScript().replaceAll('http://localhost:8080', server.baseUrl);
    const { DATABASE_URL: _pg, NODE_OPTIONS: _n, ...env } = process.env;
    const run = await bash(script, { ...env, DATA_DIR: dataDir, BASE_URL: server.baseUrl });
    expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    const transactionResponse = run.stdout.slice(0, run.stdout.lastIndexOf('}') + 1);
    expect(transactionResponse).to.contain('"transaction-response"');
    expect(transactionResponse.match(/"201 Created"/g) ?? []).to.have.length(3);
    expect(run.stdout.endsWith('Compte rendu de consultation du 20/11/2026'), run.stdout.slice(-300)).to.equal(true);
  });
});
