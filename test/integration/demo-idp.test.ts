import http from 'node:http';
import { expect } from 'chai';
import express from 'express';
import { decodeJwt } from 'jose';
import type { DemoUser } from '../../src/auth/demo-idp/users.js';
import { DemoIdentityProvider, type DemoIdpClient, type DemoIdpSigner } from '../../src/auth/demo-idp/provider.js';
import { pkceS256, randomSecret } from '../../src/auth/hash.js';
import { KeyStore } from '../../src/auth/keys.js';
import { UpstreamLoginError, UpstreamOidc } from '../../src/auth/upstream.js';
import { demoIdpRoutes } from '../../src/http/routes/demo-idp.js';
import { migrate } from '../../src/repo/migrations/index.js';
import { openDatabase, type Database } from '../../src/repo/pool.js';
import { browserLogin, postLoginForm, readLoginForm } from '../helpers/oidc-login.js';

const CLIENT: DemoIdpClient = { client_id: 'test-rp', client_secret: 'test-rp-secret-0123456789', redirect_uris: ['http://127.0.0.1:9/callback'] };
const REDIRECT_URI = CLIENT.redirect_uris[0];

/** A Pro Santé Connect–style doctor, as a test provider would mint it. */
const DOCTOR: DemoUser = {
  id: 'doctor',
  label: 'Dr Anne MARTIN',
  kind: 'practitioner',
  description: 'Médecin · <Médecine générale>',
  claims: {
    sub: 'f:psc:0001',
    SubjectNameID: '899700000017',
    given_name: 'Anne',
    family_name: 'MARTIN',
    preferred_username: '899700000017',
    SubjectRefPro: {
      exercices: [
        { codeProfession: '10', codeSavoirFaire: 'SM54', activities: [{ raisonSocialeSite: 'Cabinet de test', identifiantTechniqueDeLaStructure: 'R10000000001' }] },
      ],
    },
    Acces_Regulation_Medicale: 'FAUX',
  },
};

const PATIENT: DemoUser = {
  id: 'patient',
  label: 'Paul <script>alert(1)</script> DUPONT',
  kind: 'patient',
  claims: { sub: 'patient-0001', given_name: 'Paul', family_name: 'DUPONT', ins: 'urn:oid:1.2.250.1.213.1.4.10|180017512300045' },
};

function isUpstreamError(code?: string): (err: unknown) => boolean {
  return (err) => err instanceof UpstreamLoginError && (code === undefined || err.code === code);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** The messages of an error and its causes (openid-client wraps its checks' errors). */
function causeChain(err: unknown): string {
  const messages: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    messages.push(e.message);
  }
  return messages.join(' / ');
}

/** A signer that signs with the right key, then changes a claim: the signature no longer matches. */
function tamperingSigner(keys: KeyStore): DemoIdpSigner {
  return {
    jwks: (purpose) => keys.jwks(purpose),
    sign: async (purpose, payload, options) => {
      const [header, body, signature] = (await keys.sign(purpose, payload, options)).split('.');
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
      const forged = Buffer.from(JSON.stringify({ ...claims, SubjectNameID: '899999999999' })).toString('base64url');
      return [header, forged, signature].join('.');
    },
  };
}

/** A signer that signs with a key the provider's JWKS does not publish. */
function otherKeySigner(keys: KeyStore): DemoIdpSigner {
  return { jwks: (purpose) => keys.jwks(purpose), sign: (_purpose, payload, options) => keys.sign('server', payload, options) };
}

describe('Demo identity provider, driven by the upstream OIDC client', () => {
  let db: Database;
  let server: http.Server;
  let base: string;
  let keys: KeyStore;
  /** `/late` answers 503 until enableLate() mounts a provider there (discovery retry). */
  let lateRouter: express.Router | undefined;
  let enableLate: () => void;

  const upstream = (path = 'idp', overrides: Partial<{ clientId: string; clientSecret: string; redirectUri: string }> = {}): UpstreamOidc =>
    new UpstreamOidc({
      issuer: `${base}/${path}`,
      clientId: overrides.clientId ?? CLIENT.client_id,
      clientSecret: overrides.clientSecret ?? CLIENT.client_secret,
      redirectUri: overrides.redirectUri ?? REDIRECT_URI,
    });

  /** Redeems a code at the token endpoint by hand (client_secret_post unless told otherwise). */
  const redeem = (code: string, verifier: string, auth: 'post' | 'basic' = 'post', secret = CLIENT.client_secret): Promise<Response> => {
    const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
    const headers: Record<string, string> = {};
    if (auth === 'post') {
      body.set('client_id', CLIENT.client_id);
      body.set('client_secret', secret);
    } else {
      headers.authorization = `Basic ${Buffer.from(`${CLIENT.client_id}:${secret}`).toString('base64')}`;
    }
    return fetch(`${base}/idp/token`, { method: 'POST', body, headers });
  };

  /** An authorisation URL built by hand, for requests the real client would never send. */
  const authorizeUrl = (params: Record<string, string>): string => {
    const verifier = randomSecret();
    const defaults = {
      client_id: CLIENT.client_id,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid scope_all',
      state: 'st-123',
      nonce: 'n-123',
      code_challenge: pkceS256(verifier),
      code_challenge_method: 'S256',
    };
    return `${base}/idp/authorize?${new URLSearchParams({ ...defaults, ...params }).toString()}`;
  };

  before(async () => {
    db = await openDatabase({ dataDir: 'memory://', poolSize: 1 });
    await migrate(db);
    keys = new KeyStore(db);
    server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const provider = (path: string, signer: DemoIdpSigner): express.Router =>
      demoIdpRoutes(new DemoIdentityProvider({ issuer: `${base}/${path}`, clients: [CLIENT], users: async () => [DOCTOR, PATIENT], keys: signer, db }));
    const app = express();
    app.use('/idp', provider('idp', keys));
    app.use('/tampered', provider('tampered', tamperingSigner(keys)));
    app.use('/other-key', provider('other-key', otherKeySigner(keys)));
    app.use('/late', (req, res, next) => (lateRouter ? lateRouter(req, res, next) : res.status(503).end()));
    // Userinfo as a signed JWT (application/jwt), as Pro Santé Connect may answer, with one claim only it has.
    const jwtIssuer = `${base}/jwt-userinfo`;
    const jwtProvider = new DemoIdentityProvider({ issuer: jwtIssuer, clients: [CLIENT], users: async () => [DOCTOR, PATIENT], keys, db });
    app.get('/jwt-userinfo/.well-known/openid-configuration', (_req, res) => {
      res.json({ ...jwtProvider.discovery(), userinfo_signing_alg_values_supported: ['ES256'] });
    });
    app.get('/jwt-userinfo/userinfo', async (req, res) => {
      const answer = await jwtProvider.userinfo(req.header('authorization'));
      if (answer.status !== 200) {
        res.status(answer.status).json(answer.body);
        return;
      }
      const signed = await keys.sign('demo-idp', { ...answer.body, iss: jwtIssuer, aud: CLIENT.client_id, userinfo_only: 'jwt' }, { expiresInSeconds: 60 });
      res.type('application/jwt').send(signed);
    });
    app.use('/jwt-userinfo', demoIdpRoutes(jwtProvider));
    server.on('request', app);
    enableLate = () => {
      lateRouter = provider('late', keys);
    };
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await db.close();
  });

  it('when the discovery document is read, then it names the endpoints, code flow, S256 and both secret methods', async () => {
    const res = await fetch(`${base}/idp/.well-known/openid-configuration`);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(res.status).to.equal(200);
    expect(doc.issuer).to.equal(`${base}/idp`);
    expect(doc.authorization_endpoint).to.equal(`${base}/idp/authorize`);
    expect(doc.token_endpoint).to.equal(`${base}/idp/token`);
    expect(doc.userinfo_endpoint).to.equal(`${base}/idp/userinfo`);
    expect(doc.jwks_uri).to.equal(`${base}/idp/jwks`);
    expect(doc.response_types_supported).to.deep.equal(['code']);
    expect(doc.code_challenge_methods_supported).to.deep.equal(['S256']);
    expect(doc.token_endpoint_auth_methods_supported).to.have.members(['client_secret_basic', 'client_secret_post']);
  });

  it('when the JWKS is read, then it holds the demo-idp public key and no private part', async () => {
    const res = await fetch(`${base}/idp/jwks`);
    const jwks = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(res.status).to.equal(200);
    expect(jwks.keys).to.have.length.greaterThan(0);
    expect(jwks.keys[0]).to.include({ alg: 'ES256', use: 'sig' });
    expect(jwks.keys[0]).to.not.have.property('d');
  });

  it('when a professional logs in, then the client gets the verified PSC claims of the ID token and userinfo', async () => {
    const rp = upstream();
    const { callback, pending } = await browserLogin(rp, 'doctor');
    expect(callback.origin + callback.pathname).to.equal(REDIRECT_URI);
    expect(callback.searchParams.get('state')).to.equal(pending.state);
    const claims = await rp.finishLogin(callback, pending);
    expect(claims).to.include({ iss: `${base}/idp`, aud: CLIENT.client_id, sub: 'f:psc:0001', nonce: pending.nonce, acr: 'eidas1' });
    expect(claims).to.include({ SubjectNameID: '899700000017', given_name: 'Anne', family_name: 'MARTIN', Acces_Regulation_Medicale: 'FAUX' });
    expect(claims.SubjectRefPro).to.deep.equal(DOCTOR.claims.SubjectRefPro);
    expect(claims.auth_time).to.be.a('number');
  });

  it('when the ID token is read, then it is ES256-signed, lives 5 minutes and carries the nonce', async () => {
    const rp = upstream();
    const { callback, pending } = await browserLogin(rp, 'doctor');
    const res = await redeem(callback.searchParams.get('code') as string, pending.codeVerifier, 'basic');
    const body = (await res.json()) as { id_token: string; access_token: string; token_type: string; expires_in: number };
    expect(res.status).to.equal(200);
    expect(body.token_type).to.equal('Bearer');
    const idToken = decodeJwt(body.id_token);
    expect(JSON.parse(Buffer.from(body.id_token.split('.')[0], 'base64url').toString())).to.include({ alg: 'ES256' });
    expect((idToken.exp as number) - (idToken.iat as number)).to.equal(300);
    expect(idToken.nonce).to.equal(pending.nonce);
  });

  it('when userinfo comes as a signed JWT, then its claims are verified and merged too', async () => {
    const rp = upstream('jwt-userinfo');
    const { callback, pending } = await browserLogin(rp, 'doctor');
    const claims = await rp.finishLogin(callback, pending);
    expect(claims).to.include({ userinfo_only: 'jwt', SubjectNameID: '899700000017', iss: `${base}/jwt-userinfo` });
  });

  it('when a patient logs in, then the claims carry the ins and no SubjectNameID', async () => {
    const rp = upstream();
    const { callback, pending } = await browserLogin(rp, 'patient');
    const claims = await rp.finishLogin(callback, pending);
    expect(claims.ins).to.equal(PATIENT.claims.ins);
    expect(claims).to.not.have.property('SubjectNameID');
  });

  it('when the login page is shown, then professionals and patients are grouped and every label is escaped', async () => {
    const { url } = await upstream().startLogin();
    const res = await fetch(url);
    const html = await res.text();
    expect(res.headers.get('content-type')).to.match(/^text\/html/);
    expect(html).to.contain('<html lang="fr">');
    expect(html).to.contain('Professionnels de santé');
    expect(html).to.contain('Patients');
    expect(html).to.contain('Dr Anne MARTIN');
    expect(html).to.not.contain('<script>');
    expect(html).to.contain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(html).to.contain('&#60;Médecine générale&#62;');
    expect(res.headers.get('content-security-policy')).to.match(/default-src 'none'/);
  });

  it('when the person cancels, then the client is told access_denied and the login fails', async () => {
    const rp = upstream();
    const { callback, pending } = await browserLogin(rp, 'doctor', 'cancel');
    expect(callback.searchParams.get('error')).to.equal('access_denied');
    const err = await rejection(rp.finishLogin(callback, pending));
    expect(err).to.satisfy(isUpstreamError('denied'));
  });

  it('when no person is chosen, then the login page comes back with an error and the request still works', async () => {
    const { url } = await upstream().startLogin();
    const form = readLoginForm(await (await fetch(url)).text());
    const again = await postLoginForm(form.action, { request: form.requestId, action: 'login' });
    expect(again.status).to.equal(400);
    expect(await again.text()).to.contain('role="alert"');
    const chosen = await postLoginForm(form.action, { request: form.requestId, user: 'doctor', action: 'login' });
    expect(chosen.status).to.equal(302);
  });

  it('when a login form is posted twice, then the second post gets an error page, not a second code', async () => {
    const { url } = await upstream().startLogin();
    const form = readLoginForm(await (await fetch(url)).text());
    expect((await postLoginForm(form.action, { request: form.requestId, user: 'doctor', action: 'login' })).status).to.equal(302);
    const second = await postLoginForm(form.action, { request: form.requestId, user: 'doctor', action: 'login' });
    expect(second.status).to.equal(400);
    expect(second.headers.get('location')).to.equal(null);
  });

  it('when the client secret is wrong, then the token request fails and so does the login', async () => {
    const rp = upstream('idp', { clientSecret: 'not-the-secret' });
    const { callback, pending } = await browserLogin(rp, 'doctor');
    const err = await rejection(rp.finishLogin(callback, pending));
    expect(err).to.satisfy(isUpstreamError('invalid-response'));
    expect((err as Error).message).to.contain('invalid_client');
  });

  it('when the client secret is wrong with client_secret_basic, then the answer is 401 invalid_client with a Basic challenge', async () => {
    const { callback, pending } = await browserLogin(upstream(), 'doctor');
    const res = await redeem(callback.searchParams.get('code') as string, pending.codeVerifier, 'basic', 'wrong');
    expect(res.status).to.equal(401);
    expect(res.headers.get('www-authenticate')).to.match(/^Basic/);
    expect(((await res.json()) as { error: string }).error).to.equal('invalid_client');
  });

  it('when the redirect URI is not registered, then an error page is shown and nothing redirects', async () => {
    const { url } = await upstream('idp', { redirectUri: 'http://127.0.0.1:9/evil' }).startLogin();
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).to.equal(400);
    expect(res.headers.get('location')).to.equal(null);
    expect(res.headers.get('content-type')).to.match(/^text\/html/);
    expect(await res.text()).to.contain('redirect_uri');
  });

  it('when the client is unknown, then an error page is shown and nothing redirects', async () => {
    const res = await fetch(authorizeUrl({ client_id: 'nobody' }), { redirect: 'manual' });
    expect(res.status).to.equal(400);
    expect(res.headers.get('location')).to.equal(null);
    expect(await res.text()).to.contain('client_id');
  });

  it('when PKCE is missing, then the client gets error=invalid_request with its state', async () => {
    const url = new URL(authorizeUrl({}));
    url.searchParams.delete('code_challenge');
    url.searchParams.delete('code_challenge_method');
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).to.equal(302);
    const location = new URL(res.headers.get('location') as string);
    expect(location.origin + location.pathname).to.equal(REDIRECT_URI);
    expect(location.searchParams.get('error')).to.equal('invalid_request');
    expect(location.searchParams.get('state')).to.equal('st-123');
  });

  it('when PKCE is plain, then the client gets error=invalid_request', async () => {
    const res = await fetch(authorizeUrl({ code_challenge_method: 'plain', code_challenge: 'a'.repeat(43) }), { redirect: 'manual' });
    expect(new URL(res.headers.get('location') as string).searchParams.get('error')).to.equal('invalid_request');
  });

  it('when the scope lacks openid, then the client gets error=invalid_scope', async () => {
    const res = await fetch(authorizeUrl({ scope: 'scope_all' }), { redirect: 'manual' });
    expect(new URL(res.headers.get('location') as string).searchParams.get('error')).to.equal('invalid_scope');
  });

  it('when the response type is not code, then the client gets error=unsupported_response_type', async () => {
    const res = await fetch(authorizeUrl({ response_type: 'token' }), { redirect: 'manual' });
    expect(new URL(res.headers.get('location') as string).searchParams.get('error')).to.equal('unsupported_response_type');
  });

  it('when a code is used twice, then the second use is invalid_grant and the first access token is revoked', async () => {
    const { callback, pending } = await browserLogin(upstream(), 'doctor');
    const code = callback.searchParams.get('code') as string;
    const first = await redeem(code, pending.codeVerifier);
    const { access_token: accessToken } = (await first.json()) as { access_token: string };
    expect(first.status).to.equal(200);
    expect((await fetch(`${base}/idp/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } })).status).to.equal(200);
    const second = await redeem(code, pending.codeVerifier);
    expect(second.status).to.equal(400);
    expect(((await second.json()) as { error: string }).error).to.equal('invalid_grant');
    expect((await fetch(`${base}/idp/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } })).status).to.equal(401);
  });

  it('when the client finishes the same login twice, then the second attempt fails', async () => {
    const rp = upstream();
    const { callback, pending } = await browserLogin(rp, 'doctor');
    await rp.finishLogin(callback, pending);
    const err = await rejection(rp.finishLogin(callback, pending));
    expect(err).to.satisfy(isUpstreamError('invalid-response'));
    expect((err as Error).message).to.contain('invalid_grant');
  });

  it('when the PKCE verifier does not match, then the login fails with invalid_grant', async () => {
    const rp = upstream();
    const { callback, pending } = await browserLogin(rp, 'doctor');
    const err = await rejection(rp.finishLogin(callback, { ...pending, codeVerifier: randomSecret() }));
    expect(err).to.satisfy(isUpstreamError('invalid-response'));
    expect((err as Error).message).to.contain('invalid_grant');
  });

  it('when the ID token payload was changed after signing, then the client rejects it', async () => {
    const rp = upstream('tampered');
    const { callback, pending } = await browserLogin(rp, 'doctor');
    const err = await rejection(rp.finishLogin(callback, pending));
    expect(err).to.satisfy(isUpstreamError('invalid-response'));
    expect(causeChain(err)).to.match(/signature verification failed/);
  });

  it('when the ID token is signed with a key the provider does not publish, then the client rejects it', async () => {
    const rp = upstream('other-key');
    const { callback, pending } = await browserLogin(rp, 'doctor');
    const err = await rejection(rp.finishLogin(callback, pending));
    expect(err).to.satisfy(isUpstreamError('invalid-response'));
    expect((err as Error).message).to.contain('OAUTH_KEY_SELECTION_FAILED');
  });

  it('when the nonce expected by the client differs, then the login fails', async () => {
    const rp = upstream();
    const { callback, pending } = await browserLogin(rp, 'doctor');
    const err = await rejection(rp.finishLogin(callback, { ...pending, nonce: 'another-nonce' }));
    expect(err).to.satisfy(isUpstreamError('invalid-response'));
    expect((err as Error).message).to.contain('OAUTH_JWT_CLAIM_COMPARISON_FAILED');
  });

  it('when the state expected by the client differs, then the login fails', async () => {
    const rp = upstream();
    const { callback, pending } = await browserLogin(rp, 'doctor');
    const err = await rejection(rp.finishLogin(callback, { ...pending, state: 'another-state' }));
    expect(err).to.satisfy(isUpstreamError('invalid-response'));
  });

  it('when userinfo is called without a token or with an unknown one, then it answers 401 with a Bearer challenge', async () => {
    const none = await fetch(`${base}/idp/userinfo`);
    expect(none.status).to.equal(401);
    expect(none.headers.get('www-authenticate')).to.match(/^Bearer/);
    const unknown = await fetch(`${base}/idp/userinfo`, { headers: { authorization: `Bearer ${randomSecret()}` } });
    expect(unknown.status).to.equal(401);
    expect(unknown.headers.get('www-authenticate')).to.contain('invalid_token');
  });

  it('when the token endpoint gets another grant type, then it answers unsupported_grant_type', async () => {
    const res = await fetch(`${base}/idp/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT.client_id, client_secret: CLIENT.client_secret }),
    });
    expect(res.status).to.equal(400);
    expect(((await res.json()) as { error: string }).error).to.equal('unsupported_grant_type');
  });

  it('when the issuer is plain http on a non-loopback host, then the client refuses it', () => {
    expect(() => new UpstreamOidc({ issuer: 'http://idp.example.com/realm', clientId: 'x', clientSecret: 'y', redirectUri: REDIRECT_URI })).to.throw(UpstreamLoginError);
  });

  it('when discovery fails once, then the next login tries discovery again and works', async () => {
    const rp = upstream('late');
    const err = await rejection(rp.startLogin());
    expect(err).to.satisfy(isUpstreamError('discovery'));
    enableLate();
    const { callback, pending } = await browserLogin(rp, 'doctor');
    const claims = await rp.finishLogin(callback, pending);
    expect(claims.SubjectNameID).to.equal('899700000017');
  });
});
