import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { calculateJwkThumbprint, createLocalJWKSet, importJWK, jwtVerify, SignJWT, type JWK } from 'jose';
import { readClientsFile, type SmartClient } from '../../src/auth/clients.js';
import { DEMO_APP_SCOPE, DEMO_BACKEND_SCOPE, DEMO_INSURER_SCOPE, demoInsurerKeyFile, ensureDemoClients } from '../../src/auth/demo-clients.js';

const BASE_URL = 'https://dmp.example.org';

describe('demo SMART clients (first start with the demo data)', () => {
  const dirs: string[] = [];

  /** A fresh data folder, with the clients file at its default place. */
  function fresh(): { clientsFile: string; dataDir: string; keyFile: string } {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-demo-clients-'));
    dirs.push(dataDir);
    return { clientsFile: path.join(dataDir, 'smart-clients.json'), dataDir, keyFile: path.join(dataDir, 'demo-backend-key.json') };
  }

  after(() => {
    for (const dir of dirs) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when there is no clients file, then it is created (0644) with demo-app, demo-backend and demo-insurer and created is true', async () => {
    const where = fresh();
    expect(await ensureDemoClients({ ...where, baseUrl: BASE_URL })).to.deep.equal({ created: true });
    expect(fs.statSync(where.clientsFile).mode & 0o777).to.equal(0o644);
    expect(readClientsFile(where.clientsFile).map((c) => c.client_id)).to.deep.equal(['demo-app', 'demo-backend', 'demo-insurer']);
  });

  it('when the demo insurer is registered, then it is a client_credentials client with the DMP role insurer, the feed scopes and its own key (0600 in the data folder)', async () => {
    const where = fresh();
    await ensureDemoClients({ ...where, baseUrl: BASE_URL });
    const clients = readClientsFile(where.clientsFile);
    const insurer = clients.find((c) => c.client_id === 'demo-insurer') as SmartClient;
    expect(insurer).to.include({ token_endpoint_auth_method: 'private_key_jwt', scope: DEMO_INSURER_SCOPE, dmp_role: 'insurer' });
    expect(insurer.scope).to.equal('system/Patient.rs system/DocumentReference.crs system/Binary.c');
    expect(insurer.grant_types).to.deep.equal(['client_credentials']);
    const keyFile = demoInsurerKeyFile(where.dataDir);
    expect(keyFile).to.equal(path.join(where.dataDir, 'demo-insurer-key.json'));
    expect(fs.statSync(keyFile).mode & 0o777).to.equal(0o600);
    const privateJwk = JSON.parse(fs.readFileSync(keyFile, 'utf8')) as JWK;
    expect(privateJwk.kid).to.equal(insurer.jwks!.keys[0].kid);
    const backend = clients.find((c) => c.client_id === 'demo-backend') as SmartClient;
    expect(privateJwk.kid, 'the insurer does not share the backend key').to.not.equal(backend.jwks!.keys[0].kid);
    const jwt = await new SignJWT({ sub: 'demo-insurer' }).setProtectedHeader({ alg: 'ES384', kid: privateJwk.kid }).sign(await importJWK(privateJwk, 'ES384'));
    expect((await jwtVerify(jwt, createLocalJWKSet(insurer.jwks!), { algorithms: ['ES384'] })).payload.sub).to.equal('demo-insurer');
  });

  it('when the demo app is registered, then it is a public PKCE app redirecting to BASE_URL/demo-app/callback', async () => {
    const where = fresh();
    await ensureDemoClients({ ...where, baseUrl: BASE_URL });
    const app = readClientsFile(where.clientsFile).find((c) => c.client_id === 'demo-app') as SmartClient;
    expect(app.token_endpoint_auth_method).to.equal('none');
    expect(app.redirect_uris).to.deep.equal([`${BASE_URL}/demo-app/callback`]);
    expect(app.grant_types).to.deep.equal(['authorization_code', 'refresh_token']);
    expect(app.scope).to.equal(DEMO_APP_SCOPE);
    expect(app).to.not.have.property('client_secret');
  });

  it('when the demo backend is registered, then it is a client_credentials client with one public ES384 key (kid = thumbprint)', async () => {
    const where = fresh();
    await ensureDemoClients({ ...where, baseUrl: BASE_URL });
    const backend = readClientsFile(where.clientsFile).find((c) => c.client_id === 'demo-backend') as SmartClient;
    expect(backend.token_endpoint_auth_method).to.equal('private_key_jwt');
    expect(backend.grant_types).to.deep.equal(['client_credentials']);
    expect(backend.scope).to.equal(DEMO_BACKEND_SCOPE);
    expect(backend.dmp_role, 'the demo backend is the host operator of fictitious data').to.equal('operator');
    expect(backend.jwks?.keys).to.have.length(1);
    const pub = backend.jwks!.keys[0];
    expect(pub).to.include({ kty: 'EC', crv: 'P-384', alg: 'ES384' });
    expect(pub).to.not.have.property('d');
    expect(pub.kid).to.equal(await calculateJwkThumbprint(pub, 'sha256'));
  });

  it('when the demo backend key is written, then it is a private JWK readable by its owner only (0600)', async () => {
    const where = fresh();
    await ensureDemoClients({ ...where, baseUrl: BASE_URL });
    expect(fs.statSync(where.keyFile).mode & 0o777).to.equal(0o600);
    expect((JSON.parse(fs.readFileSync(where.keyFile, 'utf8')) as JWK).d).to.be.a('string');
  });

  it('when something is signed with the private key file, then the registered public key verifies it', async () => {
    const where = fresh();
    await ensureDemoClients({ ...where, baseUrl: BASE_URL });
    const privateJwk = JSON.parse(fs.readFileSync(where.keyFile, 'utf8')) as JWK;
    const backend = readClientsFile(where.clientsFile).find((c) => c.client_id === 'demo-backend') as SmartClient;
    expect(privateJwk.kid).to.equal(backend.jwks!.keys[0].kid);
    const jwt = await new SignJWT({ sub: 'demo-backend' }).setProtectedHeader({ alg: 'ES384', kid: privateJwk.kid }).sign(await importJWK(privateJwk, 'ES384'));
    const { payload } = await jwtVerify(jwt, createLocalJWKSet(backend.jwks!), { algorithms: ['ES384'] });
    expect(payload.sub).to.equal('demo-backend');
  });

  it('when it runs again, then created is false and neither the clients file nor the keys change', async () => {
    const where = fresh();
    await ensureDemoClients({ ...where, baseUrl: BASE_URL });
    const clients = fs.readFileSync(where.clientsFile, 'utf8');
    const key = fs.readFileSync(where.keyFile, 'utf8');
    const insurerKey = fs.readFileSync(demoInsurerKeyFile(where.dataDir), 'utf8');
    expect(await ensureDemoClients({ ...where, baseUrl: 'https://other.example.org' })).to.deep.equal({ created: false });
    expect(fs.readFileSync(where.clientsFile, 'utf8')).to.equal(clients);
    expect(fs.readFileSync(where.keyFile, 'utf8')).to.equal(key);
    expect(fs.readFileSync(demoInsurerKeyFile(where.dataDir), 'utf8')).to.equal(insurerKey);
  });

  it('when a clients file already exists (even an empty registry), then it is never overwritten and no key is written', async () => {
    const where = fresh();
    fs.writeFileSync(where.clientsFile, '[]\n');
    expect(await ensureDemoClients({ ...where, baseUrl: BASE_URL })).to.deep.equal({ created: false });
    expect(fs.readFileSync(where.clientsFile, 'utf8')).to.equal('[]\n');
    expect(fs.existsSync(where.keyFile)).to.equal(false);
    expect(fs.existsSync(demoInsurerKeyFile(where.dataDir))).to.equal(false);
  });

  it('when the clients file lives in a folder of its own that does not exist yet, then the folder is created and the key still goes to the data folder', async () => {
    const where = fresh();
    const clientsFile = path.join(where.dataDir, 'etc', 'smart', 'clients.json');
    expect(await ensureDemoClients({ clientsFile, dataDir: where.dataDir, baseUrl: BASE_URL })).to.deep.equal({ created: true });
    expect(readClientsFile(clientsFile)).to.have.length(3);
    expect(fs.existsSync(where.keyFile)).to.equal(true);
  });

  it('when two starts race on an empty folder, then exactly one registers the clients and the key matches the file', async () => {
    const where = fresh();
    const results = await Promise.all([ensureDemoClients({ ...where, baseUrl: BASE_URL }), ensureDemoClients({ ...where, baseUrl: BASE_URL })]);
    expect(results.filter((r) => r.created)).to.have.length(1);
    const backend = readClientsFile(where.clientsFile).find((c) => c.client_id === 'demo-backend') as SmartClient;
    expect((JSON.parse(fs.readFileSync(where.keyFile, 'utf8')) as JWK).kid).to.equal(backend.jwks!.keys[0].kid);
    const insurer = readClientsFile(where.clientsFile).find((c) => c.client_id === 'demo-insurer') as SmartClient;
    expect((JSON.parse(fs.readFileSync(demoInsurerKeyFile(where.dataDir), 'utf8')) as JWK).kid).to.equal(insurer.jwks!.keys[0].kid);
    expect(fs.readdirSync(where.dataDir).sort()).to.deep.equal(['demo-backend-key.json', 'demo-insurer-key.json', 'smart-clients.json']);
  });
});
