import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, type JWK } from 'jose';
import {
  ASSERTION_LIFETIME_S,
  ClientAdminError,
  DEFAULT_APP_SCOPE,
  DEFAULT_BACKEND_SCOPE,
  addClient,
  appendClient,
  buildClient,
  defaultAssertionKeyFile,
  describeClient,
  readJwksFile,
  signClientAssertion,
} from '../../src/auth/client-admin.js';
import { clientProblems, readClientsFile, type SmartClient } from '../../src/auth/clients.js';

const TOKEN_URL = 'https://dmp.example.org/auth/token';

const tempDirs: string[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-client-admin-'));
  tempDirs.push(dir);
  return dir;
}

async function rejection(promise: Promise<unknown>): Promise<ClientAdminError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(ClientAdminError);
    return err as ClientAdminError;
  }
  throw new Error('expected a ClientAdminError');
}

function publicApp(id: string): SmartClient {
  return { client_id: id, redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none', scope: 'openid patient/*.rs', grant_types: ['authorization_code'] };
}

/** Bytes and modification time: "untouched" means both are the same. */
function snapshot(file: string): { bytes: string; mtimeMs: number } {
  return { bytes: fs.readFileSync(file, 'utf8'), mtimeMs: fs.statSync(file).mtimeMs };
}

describe('client administration (npm run client)', () => {
  after(() => {
    for (const dir of tempDirs) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('building a client', () => {
    it('when only an id and a redirect URI are given, then a public app with authorization_code, refresh_token and the read-only default scope comes out', async () => {
      const { client, generatedSecret, privateJwk } = await buildClient({ id: 'my-app', redirectUris: ['https://app.example/cb'] });
      expect(client).to.deep.equal({
        client_id: 'my-app',
        redirect_uris: ['https://app.example/cb'],
        token_endpoint_auth_method: 'none',
        scope: DEFAULT_APP_SCOPE,
        grant_types: ['authorization_code', 'refresh_token'],
      });
      expect(clientProblems(client)).to.deep.equal([]);
      expect(generatedSecret).to.equal(undefined);
      expect(privateJwk).to.equal(undefined);
    });

    it('when only an id is given, then a Backend Services client with private_key_jwt, a generated ES384 key and the system read scope comes out', async () => {
      const { client, privateJwk } = await buildClient({ id: 'my-backend' });
      expect(client.token_endpoint_auth_method).to.equal('private_key_jwt');
      expect(client.grant_types).to.deep.equal(['client_credentials']);
      expect(client.scope).to.equal(DEFAULT_BACKEND_SCOPE);
      expect(client.jwks?.keys).to.have.length(1);
      const pub = client.jwks!.keys[0];
      expect(pub).to.include({ kty: 'EC', crv: 'P-384', alg: 'ES384' });
      expect(pub).to.not.have.property('d');
      expect(pub.kid).to.equal(await calculateJwkThumbprint(pub, 'sha256'));
      expect(privateJwk).to.include({ kid: pub.kid, x: pub.x, y: pub.y, alg: 'ES384' });
      expect(privateJwk?.d).to.be.a('string');
    });

    it('when client_secret_basic comes without a secret, then a strong secret is generated and registered', async () => {
      const { client, generatedSecret } = await buildClient({ id: 'conf', auth: 'client_secret_basic', redirectUris: ['https://app.example/cb'] });
      expect(generatedSecret).to.match(/^[A-Za-z0-9_-]{43}$/);
      expect(client.client_secret).to.equal(generatedSecret);
    });

    it('when client_secret_basic comes with a secret, then that secret is kept and none is generated', async () => {
      const { client, generatedSecret } = await buildClient({ id: 'conf', auth: 'client_secret_basic', secret: 'a-long-enough-secret-value', redirectUris: ['https://app.example/cb'] });
      expect(client.client_secret).to.equal('a-long-enough-secret-value');
      expect(generatedSecret).to.equal(undefined);
    });

    it('when the scope, grants and name are given, then they are registered as given', async () => {
      const { client } = await buildClient({ id: 'app2', name: 'App two', redirectUris: ['https://a.example/cb'], scope: ' openid  user/Patient.rs ', grants: ['authorization_code'] });
      expect(client).to.include({ client_name: 'App two', scope: 'openid user/Patient.rs' });
      expect(client.grant_types).to.deep.equal(['authorization_code']);
    });

    it('when client_credentials is asked with auth none, then the clientProblems rule is reported', async () => {
      const err = await rejection(buildClient({ id: 'bad', auth: 'none', grants: ['client_credentials'] }));
      expect(err.problems).to.deep.equal(['bad: client_credentials (SMART Backend Services) needs private_key_jwt']);
    });

    it('when authorization_code comes without a redirect URI, then it is refused', async () => {
      const err = await rejection(buildClient({ id: 'bad', grants: ['authorization_code'] }));
      expect(err.message).to.contain('authorization_code needs at least one redirect_uri');
    });

    it('when a redirect URI is not absolute, then it is refused', async () => {
      const err = await rejection(buildClient({ id: 'bad', redirectUris: ['/relative/cb'] }));
      expect(err.message).to.contain('redirect_uris must be an array of absolute URLs');
    });

    it('when the id could escape the key folder or is empty, then it is refused', async () => {
      for (const id of ['../evil', 'a/b', '', '.hidden', 'x'.repeat(129)]) {
        const err = await rejection(buildClient({ id, redirectUris: ['https://app.example/cb'] }));
        expect(err.message, id).to.contain('the client id must be');
      }
    });

    it('when the auth method, a grant or a scope is unknown, then each is reported', async () => {
      const err = await rejection(buildClient({ id: 'bad', auth: 'magic', grants: ['password'], scope: 'openid patient/*.everything', redirectUris: ['https://app.example/cb'] }));
      expect(err.message).to.contain('unknown authentication method magic');
      expect(err.message).to.contain('unknown grant type password');
      expect(err.message).to.contain('unknown scope patient/*.everything');
    });

    it('when a secret is given for another method than client_secret_basic, then it is refused', async () => {
      const err = await rejection(buildClient({ id: 'bad', secret: 'a-long-enough-secret-value', redirectUris: ['https://app.example/cb'] }));
      expect(err.message).to.contain('a secret only goes with client_secret_basic');
    });

    it('when the JWKS URI is not an http(s) URL, then it is refused', async () => {
      const err = await rejection(buildClient({ id: 'bad', jwksUri: 'file:///etc/keys.json' }));
      expect(err.message).to.contain('the JWKS URI must be an absolute http(s) URL');
    });

    it('when a JWKS URI is given, then no key is generated and the URI is registered', async () => {
      const { client, privateJwk } = await buildClient({ id: 'remote', jwksUri: 'https://backend.example/jwks.json' });
      expect(client.jwks_uri).to.equal('https://backend.example/jwks.json');
      expect(client.jwks).to.equal(undefined);
      expect(privateJwk).to.equal(undefined);
    });
  });

  describe('JWKS files', () => {
    it('when the JWKS file holds a private key, then it is refused', async () => {
      const dir = tempDir();
      const { privateKey } = await generateKeyPair('ES384', { extractable: true });
      const file = path.join(dir, 'jwks.json');
      fs.writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(privateKey)), kid: 'k1' }] }));
      expect(() => readJwksFile(file)).to.throw(ClientAdminError, 'holds private key material');
    });

    it('when the JWKS file holds a single public JWK with a kid, then it is read as a set of one', async () => {
      const dir = tempDir();
      const { publicKey } = await generateKeyPair('RS384', { extractable: true });
      const file = path.join(dir, 'key.json');
      fs.writeFileSync(file, JSON.stringify({ ...(await exportJWK(publicKey)), kid: 'rsa-1' }));
      const set = readJwksFile(file);
      expect(set.keys).to.have.length(1);
      expect(set.keys[0]).to.include({ kty: 'RSA', kid: 'rsa-1' });
    });

    it('when a key of the JWKS file has no kid or is a P-256 key, then it is refused', async () => {
      const dir = tempDir();
      const { publicKey } = await generateKeyPair('ES256', { extractable: true });
      const file = path.join(dir, 'jwks.json');
      fs.writeFileSync(file, JSON.stringify({ keys: [await exportJWK(publicKey)] }));
      expect(() => readJwksFile(file)).to.throw(ClientAdminError, 'needs a kid');
      expect(() => readJwksFile(file)).to.throw(ClientAdminError, 'must be an RSA or EC P-384 key');
    });
  });

  describe('appending to the clients file', () => {
    it('when the clients file does not exist, then it is created with the client', () => {
      const file = path.join(tempDir(), 'sub', 'smart-clients.json');
      appendClient(file, publicApp('first'));
      expect(readClientsFile(file).map((c) => c.client_id)).to.deep.equal(['first']);
    });

    it('when a client is appended, then the ones already registered stay, in order', () => {
      const file = path.join(tempDir(), 'smart-clients.json');
      appendClient(file, publicApp('first'));
      appendClient(file, publicApp('second'));
      expect(readClientsFile(file).map((c) => c.client_id)).to.deep.equal(['first', 'second']);
    });

    it('when the id is already registered, then it is refused and the file is untouched', () => {
      const file = path.join(tempDir(), 'smart-clients.json');
      appendClient(file, publicApp('first'));
      const before = snapshot(file);
      expect(() => appendClient(file, { ...publicApp('first'), scope: 'openid' })).to.throw(ClientAdminError, 'already registered');
      expect(snapshot(file)).to.deep.equal(before);
    });

    it('when the client is invalid, then it is refused and the file is untouched', () => {
      const file = path.join(tempDir(), 'smart-clients.json');
      appendClient(file, publicApp('first'));
      const before = snapshot(file);
      expect(() => appendClient(file, { ...publicApp('second'), redirect_uris: [] })).to.throw(ClientAdminError, 'authorization_code needs at least one redirect_uri');
      expect(snapshot(file)).to.deep.equal(before);
    });

    it('when the existing file is not a valid clients file, then nothing is written', () => {
      const file = path.join(tempDir(), 'smart-clients.json');
      fs.writeFileSync(file, '{"not": "an array"}');
      const before = snapshot(file);
      expect(() => appendClient(file, publicApp('first'))).to.throw(ClientAdminError, 'must hold a JSON array');
      expect(snapshot(file)).to.deep.equal(before);
    });

    it('when the file is replaced, then no temporary file is left next to it and its mode is kept', () => {
      const dir = tempDir();
      const file = path.join(dir, 'smart-clients.json');
      appendClient(file, publicApp('first'));
      fs.chmodSync(file, 0o640);
      appendClient(file, publicApp('second'));
      expect(fs.readdirSync(dir)).to.deep.equal(['smart-clients.json']);
      expect(fs.statSync(file).mode & 0o777).to.equal(0o640);
    });
  });

  describe('adding a client (add command)', () => {
    it('when a private_key_jwt client is added, then its private key is written next to the clients file with mode 0600', async () => {
      const dir = tempDir();
      const file = path.join(dir, 'smart-clients.json');
      const added = await addClient(file, { id: 'svc' });
      expect(added.keyFile).to.equal(path.join(dir, 'svc-key.json'));
      expect(fs.statSync(added.keyFile!).mode & 0o777).to.equal(0o600);
      const stored = JSON.parse(fs.readFileSync(added.keyFile!, 'utf8')) as JWK;
      expect(stored.d).to.be.a('string');
      expect(readClientsFile(file)[0].jwks?.keys[0].kid).to.equal(stored.kid);
    });

    it('when the id is a duplicate, then neither the clients file nor any key file changes', async () => {
      const dir = tempDir();
      const file = path.join(dir, 'smart-clients.json');
      await addClient(file, { id: 'svc' });
      const before = snapshot(file);
      const keyBefore = snapshot(path.join(dir, 'svc-key.json'));
      await rejection(addClient(file, { id: 'svc' }));
      expect(snapshot(file)).to.deep.equal(before);
      expect(snapshot(path.join(dir, 'svc-key.json'))).to.deep.equal(keyBefore);
    });

    it('when a key file for the id already exists, then it is not replaced and the client is not registered', async () => {
      const dir = tempDir();
      const file = path.join(dir, 'smart-clients.json');
      fs.writeFileSync(path.join(dir, 'svc-key.json'), '{"keep": "me"}');
      const err = await rejection(addClient(file, { id: 'svc' }));
      expect(err.message).to.contain('already exists');
      expect(fs.readFileSync(path.join(dir, 'svc-key.json'), 'utf8')).to.equal('{"keep": "me"}');
      expect(fs.existsSync(file)).to.equal(false);
    });
  });

  describe('client assertions', () => {
    it('when an assertion is signed with a generated key, then it verifies against the registered public key with every SMART claim', async () => {
      const { client, privateJwk } = await buildClient({ id: 'svc' });
      const before = Math.floor(Date.now() / 1000);
      const jwt = await signClientAssertion({ clientId: 'svc', privateJwk: privateJwk!, audience: TOKEN_URL });
      const { payload, protectedHeader } = await jwtVerify(jwt, createLocalJWKSet(client.jwks!), { algorithms: ['ES384'], issuer: 'svc', subject: 'svc', audience: TOKEN_URL });
      expect(protectedHeader.alg).to.equal('ES384');
      expect(protectedHeader.kid).to.equal(client.jwks!.keys[0].kid);
      expect(payload.iss).to.equal('svc');
      expect(payload.sub).to.equal('svc');
      expect(payload.aud).to.equal(TOKEN_URL);
      expect(payload.exp).to.be.at.most(Math.floor(Date.now() / 1000) + 300);
      expect(payload.exp).to.be.at.least(before + ASSERTION_LIFETIME_S);
      expect(payload.jti).to.be.a('string').and.not.equal('');
    });

    it('when two assertions are signed, then their jti differ', async () => {
      const { privateJwk } = await buildClient({ id: 'svc' });
      const a = await signClientAssertion({ clientId: 'svc', privateJwk: privateJwk!, audience: TOKEN_URL });
      const b = await signClientAssertion({ clientId: 'svc', privateJwk: privateJwk!, audience: TOKEN_URL });
      const jti = (jwt: string): unknown => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')).jti;
      expect(jti(a)).to.not.equal(jti(b));
    });

    it('when the key is an RSA key without kid or alg, then the assertion is RS384 with the thumbprint as kid', async () => {
      const { privateKey, publicKey } = await generateKeyPair('RS384', { extractable: true });
      const pub = await exportJWK(publicKey);
      const kid = await calculateJwkThumbprint(pub, 'sha256');
      const jwt = await signClientAssertion({ clientId: 'rsa-svc', privateJwk: await exportJWK(privateKey), audience: TOKEN_URL });
      expect(decodeProtectedHeader(jwt)).to.include({ alg: 'RS384', kid });
      const { payload } = await jwtVerify(jwt, createLocalJWKSet({ keys: [{ ...pub, kid }] }), { algorithms: ['RS384'], audience: TOKEN_URL });
      expect(payload.iss).to.equal('rsa-svc');
    });

    it('when the key is an EC P-256 key, then no assertion is signed', async () => {
      const { privateKey } = await generateKeyPair('ES256', { extractable: true });
      await rejection(signClientAssertion({ clientId: 'svc', privateJwk: await exportJWK(privateKey), audience: TOKEN_URL }));
    });
  });

  describe('key file locations and listing', () => {
    it('when the client is demo-backend, then its key is looked for in DATA_DIR, else next to the clients file', () => {
      const where = { clientsFile: '/etc/dmp/smart-clients.json', dataDir: '/var/lib/dmp' };
      expect(defaultAssertionKeyFile('demo-backend', where)).to.equal('/var/lib/dmp/demo-backend-key.json');
      expect(defaultAssertionKeyFile('svc', where)).to.equal('/etc/dmp/svc-key.json');
    });

    it('when a client with a secret and keys is described for the list, then neither appears', async () => {
      const { client } = await buildClient({ id: 'conf', auth: 'client_secret_basic', secret: 'a-long-enough-secret-value', redirectUris: ['https://app.example/cb'] });
      const line = JSON.stringify(describeClient(client));
      expect(line).to.not.contain('a-long-enough-secret-value');
      expect(describeClient(client)).to.deep.equal({ id: 'conf', name: '', auth: 'client_secret_basic', grants: 'authorization_code,refresh_token', role: '-', scope: DEFAULT_APP_SCOPE });
    });
  });

  describe('DMP role of Backend Services clients', () => {
    it('when a Backend Services client is added with --role insurer or operator, then the role is registered and listed', async () => {
      for (const role of ['insurer', 'operator'] as const) {
        const { client } = await buildClient({ id: `svc-${role}`, role });
        expect(client.dmp_role).to.equal(role);
        expect(describeClient(client).role).to.equal(role);
      }
    });

    it('when no role is given, then none is registered (the client gets no DMP data)', async () => {
      const { client } = await buildClient({ id: 'svc' });
      expect(client).to.not.have.property('dmp_role');
    });

    it('when the role is unknown or given to a user-facing app, then it is refused', async () => {
      expect((await rejection(buildClient({ id: 'svc', role: 'admin' }))).message).to.contain('dmp_role must be one of insurer, operator');
      expect((await rejection(buildClient({ id: 'app', role: 'insurer', redirectUris: ['https://app.example/cb'] }))).message).to.contain('dmp_role is for Backend Services clients');
    });
  });
});
