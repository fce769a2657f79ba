import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { ClientAuthenticator } from '../../src/auth/client-auth.js';
import { ClientRegistry, readClientsFile, type SmartClient } from '../../src/auth/clients.js';
import { ensureDemoClients } from '../../src/auth/demo-clients.js';
import { OAuthError } from '../../src/auth/oauth-errors.js';
import { getTestServer } from '../helpers/server.js';
import { unique } from '../helpers/fhir.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BASE_URL = 'https://dmp.example.org';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('npm run client (scripts/client.ts as a child process)', function () {
  // Each test starts one or two `npx tsx` processes (a second or two each on a loaded machine).
  this.timeout(60_000);
  let dataDir: string;
  let clientsFile: string;

  /** `npx tsx scripts/client.ts <args>` with DATA_DIR, SMART_CLIENTS_FILE and BASE_URL of this suite. */
  function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, SMART_CLIENTS_FILE: clientsFile, BASE_URL, ...env };
    delete childEnv.NODE_OPTIONS;
    return new Promise((resolve) => {
      execFile('npx', ['tsx', 'scripts/client.ts', ...args], { cwd: REPO_ROOT, env: childEnv }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  }

  function registered(id: string): SmartClient | undefined {
    return readClientsFile(clientsFile).find((c) => c.client_id === id);
  }

  before(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-client-cli-'));
    clientsFile = path.join(dataDir, 'conf', 'smart-clients.json');
  });

  after(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('when a public app is added, then it is appended to SMART_CLIENTS_FILE and the command exits 0', async () => {
    const id = unique('app');
    const run = await cli(['add', '--id', id, '--name', 'My app', '--redirect-uri', 'https://app.example/cb', '--redirect-uri', 'http://127.0.0.1:3000/cb', '--scope', 'openid fhirUser launch/patient patient/*.rs']);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.contain(`Registered client "${id}"`);
    expect(registered(id)).to.deep.equal({
      client_id: id,
      client_name: 'My app',
      redirect_uris: ['https://app.example/cb', 'http://127.0.0.1:3000/cb'],
      token_endpoint_auth_method: 'none',
      scope: 'openid fhirUser launch/patient patient/*.rs',
      grant_types: ['authorization_code', 'refresh_token'],
    });
  });

  it('when a private_key_jwt client is added without keys, then a private key file is created next to the clients file with mode 0600 and its path printed', async () => {
    const id = unique('backend');
    const run = await cli(['add', '--id', id, '--auth', 'private_key_jwt', '--grant', 'client_credentials', '--scope', 'system/Patient.rs']);
    expect(run.code, run.stderr).to.equal(0);
    const keyFile = path.join(path.dirname(clientsFile), `${id}-key.json`);
    expect(run.stdout).to.contain(keyFile);
    expect(fs.statSync(keyFile).mode & 0o777).to.equal(0o600);
    const client = registered(id) as SmartClient;
    expect(client.token_endpoint_auth_method).to.equal('private_key_jwt');
    expect(client.jwks?.keys[0].kid).to.equal((JSON.parse(fs.readFileSync(keyFile, 'utf8')) as { kid: string }).kid);
  });

  it('when an id is added twice, then the second add exits 2 and the file is untouched', async () => {
    const id = unique('dup');
    expect((await cli(['add', '--id', id, '--redirect-uri', 'https://app.example/cb'])).code).to.equal(0);
    const before = fs.readFileSync(clientsFile, 'utf8');
    const run = await cli(['add', '--id', id, '--redirect-uri', 'https://other.example/cb']);
    expect(run.code).to.equal(2);
    expect(run.stderr).to.contain('already registered');
    expect(fs.readFileSync(clientsFile, 'utf8')).to.equal(before);
  });

  it('when the client is invalid, then the command exits 2 with the reason and the file is untouched', async () => {
    await cli(['add', '--id', unique('seed'), '--redirect-uri', 'https://app.example/cb']);
    const before = fs.readFileSync(clientsFile, 'utf8');
    const run = await cli(['add', '--id', unique('bad'), '--auth', 'none', '--grant', 'client_credentials']);
    expect(run.code).to.equal(2);
    expect(run.stderr).to.contain('client_credentials (SMART Backend Services) needs private_key_jwt');
    expect(fs.readFileSync(clientsFile, 'utf8')).to.equal(before);
  });

  it('when an option is unknown, then the command exits 2 with the usage', async () => {
    const run = await cli(['add', '--id', unique('x'), '--colour', 'blue']);
    expect(run.code).to.equal(2);
    expect(run.stderr).to.contain("Unknown option '--colour'");
    expect(run.stderr).to.contain('Usage: npm run client');
  });

  it('when a Backend Services client is added with --role insurer, then the role is registered, printed and listed', async () => {
    const id = unique('insurer');
    const run = await cli(['add', '--id', id, '--role', 'insurer', '--scope', 'system/*.cruds']);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/DMP role:\s+insurer/);
    expect(registered(id)?.dmp_role).to.equal('insurer');
    const listed = (await cli(['list'])).stdout.split('\n').find((l) => l.startsWith(`${id} `)) as string;
    expect(listed).to.match(/\sinsurer\s+system\/\*\.cruds$/);
  });

  it('when the role is not one the DMP knows, then the client is refused and not registered', async () => {
    const id = unique('badrole');
    const run = await cli(['add', '--id', id, '--role', 'superuser']);
    expect(run.code).to.not.equal(0);
    expect(run.stderr).to.contain('dmp_role must be one of insurer, operator');
    expect(registered(id)).to.equal(undefined);
  });

  it('when a client_secret_basic client is added without --secret, then a generated secret is printed once and registered', async () => {
    const id = unique('conf');
    const run = await cli(['add', '--id', id, '--auth', 'client_secret_basic', '--redirect-uri', 'https://app.example/cb']);
    expect(run.code, run.stderr).to.equal(0);
    const secret = /client_secret[^:]*: (\S+)/.exec(run.stdout)?.[1] as string;
    expect(secret).to.have.length.of.at.least(43);
    expect(run.stdout.split(secret)).to.have.length(2);
    expect(registered(id)?.client_secret).to.equal(secret);
  });

  it('when the clients are listed, then ids, names, methods, grants, DMP roles and scopes appear but no secret', async () => {
    const id = unique('listed');
    const added = await cli(['add', '--id', id, '--name', 'Listed app', '--auth', 'client_secret_basic', '--secret', 'very-secret-value-0123456789', '--redirect-uri', 'https://app.example/cb', '--scope', 'openid user/Patient.rs']);
    expect(added.code, added.stderr).to.equal(0);
    const run = await cli(['list']);
    expect(run.code, run.stderr).to.equal(0);
    const line = run.stdout.split('\n').find((l) => l.startsWith(`${id} `)) as string;
    expect(line).to.match(new RegExp(`^${id}\\s+Listed app\\s+client_secret_basic\\s+authorization_code,refresh_token\\s+-\\s+openid user/Patient.rs$`));
    for (const c of readClientsFile(clientsFile)) {
      if (c.client_secret) {
        expect(run.stdout).to.not.contain(c.client_secret);
      }
    }
    expect(run.stdout).to.not.contain('very-secret-value-0123456789');
  });

  it('when an assertion is asked for a generated client, then a 3-part JWT signed by its registered key, for BASE_URL/auth/token, is printed', async () => {
    const id = unique('signer');
    expect((await cli(['add', '--id', id])).code).to.equal(0);
    const run = await cli(['assertion', id]);
    expect(run.code, run.stderr).to.equal(0);
    const jwt = run.stdout.trim();
    expect(jwt.split('.')).to.have.length(3);
    const client = registered(id) as SmartClient;
    const { payload, protectedHeader } = await jwtVerify(jwt, createLocalJWKSet(client.jwks!), { algorithms: ['ES384'], issuer: id, subject: id, audience: `${BASE_URL}/auth/token` });
    expect(protectedHeader.kid).to.equal(client.jwks!.keys[0].kid);
    expect(payload.exp).to.be.at.most(Math.floor(Date.now() / 1000) + 300);
    expect(payload.jti).to.be.a('string');
  });

  it('when --aud is given, then the assertion is for that audience', async () => {
    const id = unique('aud');
    expect((await cli(['add', '--id', id])).code).to.equal(0);
    const run = await cli(['assertion', id, '--aud', 'http://127.0.0.1:8080/auth/token']);
    expect(run.code, run.stderr).to.equal(0);
    expect(decodeJwt(run.stdout.trim()).aud).to.equal('http://127.0.0.1:8080/auth/token');
  });

  it('when an assertion is asked for demo-backend, then the key in DATA_DIR/demo-backend-key.json signs it', async () => {
    const demoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-client-cli-demo-'));
    try {
      const demoClients = path.join(demoDir, 'smart-clients.json');
      await ensureDemoClients({ clientsFile: demoClients, baseUrl: BASE_URL, dataDir: demoDir });
      const run = await cli(['assertion', 'demo-backend'], { DATA_DIR: demoDir, SMART_CLIENTS_FILE: demoClients });
      expect(run.code, run.stderr).to.equal(0);
      const backend = readClientsFile(demoClients).find((c) => c.client_id === 'demo-backend') as SmartClient;
      expect(decodeProtectedHeader(run.stdout.trim())).to.include({ alg: 'ES384', kid: backend.jwks!.keys[0].kid });
      await jwtVerify(run.stdout.trim(), createLocalJWKSet(backend.jwks!), { audience: `${BASE_URL}/auth/token`, issuer: 'demo-backend' });
    } finally {
      fs.rmSync(demoDir, { recursive: true, force: true });
    }
  });

  it('when the key file is missing, then the assertion command exits 2 and prints nothing on stdout', async () => {
    const run = await cli(['assertion', unique('nokey')]);
    expect(run.code).to.equal(2);
    expect(run.stdout).to.equal('');
    expect(run.stderr).to.contain('cannot read the private key');
  });

  it("when the CLI's assertion reaches the server's client authentication, then it is accepted once and its replay refused", async () => {
    const { db } = await getTestServer();
    const id = unique('e2e');
    const tokenUrl = 'http://127.0.0.1:9/auth/token';
    expect((await cli(['add', '--id', id])).code).to.equal(0);
    const run = await cli(['assertion', id, '--aud', tokenUrl]);
    expect(run.code, run.stderr).to.equal(0);
    const authenticator = new ClientAuthenticator(new ClientRegistry(clientsFile), db, tokenUrl);
    const form = { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: run.stdout.trim() };
    expect((await authenticator.authenticate(form, undefined)).client_id).to.equal(id);
    let replay: unknown;
    try {
      await authenticator.authenticate(form, undefined);
    } catch (err) {
      replay = err;
    }
    expect(replay).to.be.instanceOf(OAuthError);
    expect((replay as OAuthError).message).to.contain('jti was already used');
  });
});
