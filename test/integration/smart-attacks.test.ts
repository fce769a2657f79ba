import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { decodeJwt, decodeProtectedHeader, exportSPKI, generateKeyPair, importJWK, SignJWT, type JWTPayload } from 'jose';
import type { Bundle, DocumentReference, Patient } from '@medplum/fhirtypes';
import { clientAssertion, makeClientKey, postForm } from '../helpers/auth.js';
import { expectOutcome } from '../helpers/fhir.js';
import {
  ASSERTION_TYPE,
  authorize,
  authorizeUrl,
  backendTokenRequest,
  createDocument,
  createLaunch,
  createPatient,
  ehrLaunchToken,
  loginForToken,
  redeemCode,
  refresh,
  rigFetch,
  rigSystemToken,
  serverSigningKey,
  startSmartRig,
  type AuthorizeOutcome,
  type SmartRig,
  type TokenResponse,
} from '../helpers/smart-flow.js';
import { Browser } from '../helpers/oauth-browser.js';
import { getTestServer, systemToken } from '../helpers/server.js';
import { insPatient, pscProfessional } from '../helpers/upstream-idp.js';

type Code = Extract<AuthorizeOutcome, { kind: 'code' }>;

const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The three parts of a compact JWS, header and payload decoded. */
function partsOf(token: string): { header: Record<string, unknown>; payload: JWTPayload & Record<string, unknown>; signature: string } {
  const [, , signature] = token.split('.');
  return { header: decodeProtectedHeader(token) as Record<string, unknown>, payload: decodeJwt(token) as JWTPayload & Record<string, unknown>, signature };
}

/** Expects a 401 invalid_token answer (OperationOutcome + Bearer challenge) from a FHIR read. */
async function expectRefused(res: Response): Promise<string> {
  expect(res.headers.get('www-authenticate') ?? '').to.match(/^Bearer .*error="invalid_token"/);
  await expectOutcome(res, 401, 'UNAUTHORIZED');
  return res.headers.get('www-authenticate') as string;
}

describe('SMART attacks that must fail', function () {
  let rig: SmartRig;
  let patient: Patient & { id: string };
  let other: Patient & { id: string };
  /** A real access token: a professional, EHR launch on `patient`, patient/*.rs. */
  let token: TokenResponse;

  const launchToken = (scope: string): Promise<TokenResponse> => ehrLaunchToken(rig, patient.id, scope);

  /** A code ready to redeem (EHR launch, public app unless told). */
  const codeFor = async (scope = 'launch openid patient/*.rs', client = rig.clients.publicApp): Promise<Code> => {
    const launch = await createLaunch(rig, patient.id, client.clientId);
    const outcome = await authorize(rig, { scope, launch, client }, rig.idp.addUser(pscProfessional()));
    expect(outcome.kind).to.equal('code');
    return outcome as Code;
  };

  before(async () => {
    rig = await startSmartRig();
    patient = await createPatient(rig);
    other = await createPatient(rig);
    token = await launchToken('patient/*.rs');
  });

  after(async () => {
    await rig.close();
  });

  describe('forged or altered access tokens', () => {
    it('when a token is correctly signed with the server key and valid, then it is accepted (control for the attacks below)', async () => {
      const key = await serverSigningKey(rig);
      const { header, payload } = partsOf(token.access_token);
      const minted = await new SignJWT({ ...payload, jti: randomUUID() }).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: String(header.typ) }).sign(key.key);
      expect((await rigFetch(rig, `Patient/${patient.id}`, minted)).status).to.equal(200);
    });

    it('when the token says alg none and has no signature, then it is refused with 401 invalid_token', async () => {
      const { header, payload } = partsOf(token.access_token);
      const forged = `${b64({ ...header, alg: 'none' })}.${b64(payload)}.`;
      await expectRefused(await rigFetch(rig, `Patient/${patient.id}`, forged));
    });

    it("when the token is HS256-signed with the server's public key (JWK or PEM bytes) as the secret, then it is refused", async () => {
      const key = await serverSigningKey(rig);
      const { payload } = partsOf(token.access_token);
      const pem = await exportSPKI((await importJWK(key.publicJwk, key.alg, { extractable: true })) as CryptoKey);
      for (const secret of [JSON.stringify(key.publicJwk), pem]) {
        const forged = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: key.kid, typ: 'at+jwt' }).sign(new TextEncoder().encode(secret));
        await expectRefused(await rigFetch(rig, `Patient/${patient.id}`, forged));
      }
    });

    it('when the token is re-signed with another key under the server key id, then it is refused', async () => {
      const { header, payload } = partsOf(token.access_token);
      const { privateKey } = await generateKeyPair('ES256');
      const forged = await new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(privateKey);
      await expectRefused(await rigFetch(rig, `Patient/${patient.id}`, forged));
    });

    it('when a token correctly signed by the server key has expired, then it is refused as expired', async () => {
      const key = await serverSigningKey(rig);
      const { header, payload } = partsOf(token.access_token);
      const now = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT({ ...payload, iat: now - 7200, exp: now - 3600, jti: randomUUID() }).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: String(header.typ) }).sign(key.key);
      const challenge = await expectRefused(await rigFetch(rig, `Patient/${patient.id}`, expired));
      expect(challenge).to.contain('expired');
    });

    it('when a token correctly signed by the server key names another audience, then it is refused', async () => {
      const key = await serverSigningKey(rig);
      const { header, payload } = partsOf(token.access_token);
      const shared = await getTestServer();
      const forged = await new SignJWT({ ...payload, aud: shared.fhirBase, jti: randomUUID() }).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: String(header.typ) }).sign(key.key);
      const challenge = await expectRefused(await rigFetch(rig, `Patient/${patient.id}`, forged));
      expect(challenge).to.contain('aud');
    });

    it('when a token correctly signed by the server key names another issuer, then it is refused', async () => {
      const key = await serverSigningKey(rig);
      const { header, payload } = partsOf(token.access_token);
      const forged = await new SignJWT({ ...payload, iss: 'https://evil.example.com', jti: randomUUID() }).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: String(header.typ) }).sign(key.key);
      const challenge = await expectRefused(await rigFetch(rig, `Patient/${patient.id}`, forged));
      expect(challenge).to.contain('iss');
    });

    it('when a real token of another server instance (other BASE_URL) is presented, then it is refused', async () => {
      await expectRefused(await rigFetch(rig, `Patient/${patient.id}`, await systemToken()));
    });

    it('when the payload patient is changed and the signature kept, then the token is refused', async () => {
      const [header, , signature] = token.access_token.split('.');
      const { payload } = partsOf(token.access_token);
      const forged = `${header}.${b64({ ...payload, patient: other.id })}.${signature}`;
      await expectRefused(await rigFetch(rig, `Patient/${other.id}`, forged));
    });

    it('when the payload scope is widened and the signature kept, then the token is refused', async () => {
      const [header, , signature] = token.access_token.split('.');
      const { payload } = partsOf(token.access_token);
      const forged = `${header}.${b64({ ...payload, scope: 'patient/*.cruds system/*.cruds' })}.${signature}`;
      await expectRefused(await rigFetch(rig, 'Patient', forged, { method: 'POST', body: '{}' }));
    });
  });

  describe('authorisation codes and PKCE', () => {
    it('when a code is redeemed twice, then the second use is invalid_grant and the token from the first use is revoked', async () => {
      const { code, verifier } = await codeFor();
      const first = await redeemCode(rig, code, verifier);
      expect(first.status).to.equal(200);
      const accessToken = first.body.access_token as string;
      expect((await rigFetch(rig, `Patient/${patient.id}`, accessToken)).status).to.equal(200);
      const second = await redeemCode(rig, code, verifier);
      expect(second.status).to.equal(400);
      expect(second.body.error).to.equal('invalid_grant');
      await expectRefused(await rigFetch(rig, `Patient/${patient.id}`, accessToken));
    });

    it('when the PKCE verifier does not match the challenge, then the token request is invalid_grant', async () => {
      const { code } = await codeFor();
      const res = await redeemCode(rig, code, `${'x'.repeat(43)}${randomUUID()}`);
      expect(res.status).to.equal(400);
      expect(res.body.error).to.equal('invalid_grant');
      expect(res.body).to.not.have.property('access_token');
    });

    it('when the code_verifier is missing, then the token request is invalid_request', async () => {
      const { code } = await codeFor();
      const res = await postForm(rig.tokenUrl, { grant_type: 'authorization_code', code, redirect_uri: rig.clients.publicApp.redirectUri, client_id: rig.clients.publicApp.clientId });
      expect(res.status).to.equal(400);
      expect(res.body.error).to.equal('invalid_request');
    });

    it('when the app asks for plain PKCE, then it gets error=invalid_request before any login', async () => {
      const outcome = await authorize(rig, { scope: 'openid user/*.rs', params: { code_challenge_method: 'plain', code_challenge: 'a'.repeat(43) } });
      expect(outcome.kind).to.equal('error');
      expect((outcome as Extract<AuthorizeOutcome, { kind: 'error' }>).error).to.equal('invalid_request');
      expect(outcome.browser.visited).to.have.length(1);
    });

    it('when the app sends no code_challenge, then it gets error=invalid_request', async () => {
      const { url } = authorizeUrl(rig, { scope: 'openid user/*.rs' });
      const stripped = new URL(url);
      stripped.searchParams.delete('code_challenge');
      stripped.searchParams.delete('code_challenge_method');
      const res = await fetch(stripped, { redirect: 'manual' });
      expect(res.status).to.equal(302);
      expect(new URL(res.headers.get('location') as string).searchParams.get('error')).to.equal('invalid_request');
    });

    it('when the redirect URI is not registered, then an HTML error page is shown with status 400 and nothing redirects', async () => {
      const outcome = await authorize(rig, { scope: 'openid user/*.rs', params: { redirect_uri: 'http://127.0.0.1:9/evil/callback' } });
      expect(outcome.kind).to.equal('page');
      const { page } = outcome as Extract<AuthorizeOutcome, { kind: 'page' }>;
      expect(page.status).to.equal(400);
      expect(page.headers.get('location')).to.equal(null);
      expect(page.headers.get('content-type')).to.match(/^text\/html/);
      expect(page.text).to.not.contain('evil');
    });

    it('when the redirect URI differs only by a suffix from the registered one, then it is refused too (exact match)', async () => {
      const outcome = await authorize(rig, { scope: 'openid user/*.rs', params: { redirect_uri: `${rig.clients.publicApp.redirectUri}/../x` } });
      expect(outcome.kind).to.equal('page');
      expect((outcome as Extract<AuthorizeOutcome, { kind: 'page' }>).page.status).to.equal(400);
    });

    it('when aud is not this FHIR base, then the app gets error=invalid_request', async () => {
      const outcome = await authorize(rig, { scope: 'openid user/*.rs', params: { aud: 'https://evil.example.com/fhir' } });
      expect(outcome.kind).to.equal('error');
      expect((outcome as Extract<AuthorizeOutcome, { kind: 'error' }>).error).to.equal('invalid_request');
    });

    it("when another client redeems an app's code, then it is invalid_grant", async () => {
      const { code, verifier } = await codeFor();
      const res = await redeemCode(rig, code, verifier, rig.clients.otherApp);
      expect(res.status).to.equal(400);
      expect(res.body.error).to.equal('invalid_grant');
    });

    it('when the redirect_uri at the token endpoint differs from the authorisation request, then it is invalid_grant', async () => {
      const { code, verifier } = await codeFor();
      const res = await redeemCode(rig, code, verifier, { ...rig.clients.publicApp, redirectUri: 'http://127.0.0.1:9/other' });
      expect(res.status).to.equal(400);
      expect(res.body.error).to.equal('invalid_grant');
    });

    it('when a confidential app redeems its code with a wrong secret, then it is 401 invalid_client', async () => {
      const { code, verifier } = await codeFor('launch openid patient/*.rs', rig.clients.confidentialApp);
      const res = await redeemCode(rig, code, verifier, { ...rig.clients.confidentialApp, secret: 'wrong' });
      expect(res.status).to.equal(401);
      expect(res.body.error).to.equal('invalid_client');
    });

    it('when a confidential app redeems its code naming itself without its secret, then it is 401 invalid_client', async () => {
      const { code, verifier } = await codeFor('launch openid patient/*.rs', rig.clients.confidentialApp);
      const res = await redeemCode(rig, code, verifier, { clientId: rig.clients.confidentialApp.clientId, redirectUri: rig.clients.confidentialApp.redirectUri });
      expect(res.status).to.equal(401);
      expect(res.body.error).to.equal('invalid_client');
    });
  });

  describe('the browser binding of a login', () => {
    /** Runs a login up to the upstream provider's redirect back to /auth/callback, not followed. */
    const upToCallback = async (scope = 'launch/patient openid patient/*.rs'): Promise<{ browser: Browser; callback: URL }> => {
      const browser = new Browser();
      const isCallback = (u: URL): boolean => u.href.startsWith(`${rig.baseUrl}/auth/callback`);
      const login = await browser.navigate(authorizeUrl(rig, { scope }).url, isCallback);
      const requestId = /name="request" value="([^"]+)"/.exec(login.text)?.[1] as string;
      const user = rig.idp.addUser(pscProfessional());
      const back = await browser.navigate(`${rig.idp.issuer}/login`, isCallback, { form: { request: requestId, user: user.id, action: 'login' } });
      expect(back.status).to.equal(0);
      return { browser, callback: back.url };
    };

    it('when the upstream callback is opened in another browser (no dmp_auth cookie), then an error page, and the real browser still finishes', async () => {
      const { browser, callback } = await upToCallback('openid user/*.rs');
      const stolen = await new Browser().navigate(callback);
      expect(stolen.status).to.equal(400);
      expect(stolen.headers.get('location')).to.equal(null);
      const own = await browser.navigate(callback, (u) => u.href.startsWith(rig.clients.publicApp.redirectUri));
      expect(own.url.searchParams.get('code')).to.be.a('string');
    });

    it('when the upstream callback is replayed in the same browser, then the second visit gets an error page', async () => {
      const { browser, callback } = await upToCallback('openid user/*.rs');
      const first = await browser.navigate(callback, (u) => u.href.startsWith(rig.clients.publicApp.redirectUri));
      expect(first.url.searchParams.get('code')).to.be.a('string');
      const replay = await browser.request(callback);
      expect(replay.status).to.equal(400);
      expect(replay.headers.get('location')).to.equal(null);
    });

    it("when another browser opens or posts a professional's patient picker, then it gets error pages and no code", async () => {
      const { browser, callback } = await upToCallback();
      const picker = await browser.navigate(callback);
      expect(picker.url.pathname).to.equal('/auth/pick-patient');
      const requestId = picker.url.searchParams.get('request') as string;
      const intruder = new Browser();
      expect((await intruder.request(`${picker.url.href}&q=${encodeURIComponent(patient.name?.[0]?.family as string)}`)).status).to.equal(400);
      const posted = await intruder.request(`${rig.baseUrl}/auth/pick-patient`, { form: { request: requestId, patient: patient.id } });
      expect(posted.status).to.equal(400);
      expect(posted.headers.get('location')).to.equal(null);
    });
  });

  describe('client assertions (SMART Backend Services)', () => {
    const withAssertion = (assertion: string): ReturnType<typeof postForm> =>
      postForm(rig.tokenUrl, { grant_type: 'client_credentials', scope: 'system/Patient.rs', client_assertion_type: ASSERTION_TYPE, client_assertion: assertion });

    const expectInvalidClient = (res: Awaited<ReturnType<typeof postForm>>): void => {
      expect(res.status, JSON.stringify(res.body)).to.equal(401);
      expect(res.body.error).to.equal('invalid_client');
      expect(res.body).to.not.have.property('access_token');
    };

    it('when a valid assertion is sent (ES384 and RS384 clients), then a token is issued (control)', async () => {
      expect((await backendTokenRequest(rig, rig.backend, 'system/Patient.rs')).status).to.equal(200);
      expect((await backendTokenRequest(rig, rig.patientReader, 'system/Patient.rs')).status).to.equal(200);
    });

    it('when the same assertion is replayed (same jti), then the second request is invalid_client', async () => {
      const assertion = await clientAssertion(rig.tokenUrl, rig.backend.clientId, rig.backend.key);
      expect((await withAssertion(assertion)).status).to.equal(200);
      expectInvalidClient(await withAssertion(assertion));
    });

    it('when a new assertion reuses a jti already seen, then it is invalid_client', async () => {
      const jti = randomUUID();
      expect((await withAssertion(await clientAssertion(rig.tokenUrl, rig.backend.clientId, rig.backend.key, { claims: { jti } }))).status).to.equal(200);
      expectInvalidClient(await withAssertion(await clientAssertion(rig.tokenUrl, rig.backend.clientId, rig.backend.key, { claims: { jti } })));
    });

    it('when the assertion expires 10 minutes ahead, then it is invalid_client', async () => {
      expectInvalidClient(await withAssertion(await clientAssertion(rig.tokenUrl, rig.backend.clientId, rig.backend.key, { expiresInSeconds: 600 })));
    });

    it('when the assertion has already expired, then it is invalid_client', async () => {
      expectInvalidClient(await withAssertion(await clientAssertion(rig.tokenUrl, rig.backend.clientId, rig.backend.key, { expiresInSeconds: -60 })));
    });

    it('when the assertion is HS256-signed with the public key as secret, then it is invalid_client', async () => {
      const now = Math.floor(Date.now() / 1000);
      const assertion = await new SignJWT({ iss: rig.backend.clientId, sub: rig.backend.clientId, aud: rig.tokenUrl, jti: randomUUID(), exp: now + 120 })
        .setProtectedHeader({ alg: 'HS256', kid: rig.backend.key.kid, typ: 'JWT' })
        .sign(new TextEncoder().encode(JSON.stringify(rig.backend.key.publicJwk)));
      expectInvalidClient(await withAssertion(assertion));
    });

    it('when the assertion is signed with a key not in the client JWKS (same kid), then it is invalid_client', async () => {
      const stranger = await makeClientKey('ES384');
      expectInvalidClient(await withAssertion(await clientAssertion(rig.tokenUrl, rig.backend.clientId, { ...stranger, kid: rig.backend.key.kid })));
    });

    it('when the assertion is signed by another client’s key under its own name, then it is invalid_client', async () => {
      expectInvalidClient(await withAssertion(await clientAssertion(rig.tokenUrl, rig.patientReader.clientId, rig.backend.key)));
    });

    it('when the assertion audience is not the token URL, then it is invalid_client', async () => {
      const shared = await getTestServer();
      expectInvalidClient(await withAssertion(await clientAssertion(rig.tokenUrl, rig.backend.clientId, rig.backend.key, { claims: { aud: `${shared.baseUrl}/auth/token` } })));
    });

    it('when the assertion iss differs from sub, then it is invalid_client', async () => {
      expectInvalidClient(await withAssertion(await clientAssertion(rig.tokenUrl, rig.backend.clientId, rig.backend.key, { claims: { sub: rig.patientReader.clientId } })));
    });

    it('when the assertion header has no kid, then it is invalid_client', async () => {
      const assertion = await clientAssertion(rig.tokenUrl, rig.backend.clientId, rig.backend.key);
      const [, payload, signature] = assertion.split('.');
      expectInvalidClient(await withAssertion(`${b64({ alg: 'ES384', typ: 'JWT' })}.${payload}.${signature}`));
    });
  });

  describe('refresh tokens and scope escalation at the token endpoint', () => {
    const offline = (scope = 'patient/*.rs offline_access'): Promise<TokenResponse> => launchToken(scope);

    it('when a refresh token is used twice, then the second use is invalid_grant and the family is revoked', async () => {
      const first = await offline();
      const rotated = await refresh(rig, first.refresh_token as string);
      expect(rotated.status).to.equal(200);
      const replay = await refresh(rig, first.refresh_token as string);
      expect(replay.status).to.equal(400);
      expect(replay.body.error).to.equal('invalid_grant');
      await expectRefused(await rigFetch(rig, `Patient/${patient.id}`, rotated.body.access_token as string));
    });

    it("when another client presents an app's refresh token, then it is invalid_grant", async () => {
      const first = await offline();
      const res = await refresh(rig, first.refresh_token as string, rig.clients.otherApp);
      expect(res.status).to.equal(400);
      expect(res.body.error).to.equal('invalid_grant');
    });

    it('when a refresh asks for patient/*.cruds on a patient/*.rs grant, then it is invalid_scope', async () => {
      const first = await offline();
      const res = await refresh(rig, first.refresh_token as string, rig.clients.publicApp, 'patient/*.cruds');
      expect(res.status).to.equal(400);
      expect(res.body.error).to.equal('invalid_scope');
      expect(res.body).to.not.have.property('access_token');
    });

    it('when a refresh asks for less than the grant, then the new token has only that', async () => {
      const first = await offline();
      const res = await refresh(rig, first.refresh_token as string, rig.clients.publicApp, 'patient/Patient.rs');
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.scope).to.equal('patient/Patient.rs');
      await expectOutcome(await rigFetch(rig, `DocumentReference?patient=${patient.id}`, res.body.access_token as string), 403, 'INSUFFICIENT_SCOPE');
    });

    it('when a backend registered for system/Patient.rs asks for system/*.cruds, then it gets system/Patient.rs only', async () => {
      const res = await backendTokenRequest(rig, rig.patientReader, 'system/*.cruds');
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.scope).to.equal('system/Patient.rs');
      const accessToken = res.body.access_token as string;
      expect((await rigFetch(rig, `Patient/${patient.id}`, accessToken)).status).to.equal(200);
      await expectOutcome(await rigFetch(rig, 'Patient', accessToken, { method: 'POST', body: JSON.stringify({ resourceType: 'Patient' }) }), 403, 'INSUFFICIENT_SCOPE');
      await expectOutcome(await rigFetch(rig, `DocumentReference?patient=${patient.id}`, accessToken), 403, 'INSUFFICIENT_SCOPE');
    });

    it('when a backend asks only for scopes outside its registration, then it is invalid_scope', async () => {
      const res = await backendTokenRequest(rig, rig.patientReader, 'system/Consent.cruds');
      expect(res.status).to.equal(400);
      expect(res.body.error).to.equal('invalid_scope');
    });

    it('when a backend asks for user/ or patient/ scopes, then nothing is granted (invalid_scope)', async () => {
      const res = await backendTokenRequest(rig, rig.backend, 'user/*.cruds patient/*.cruds');
      expect(res.status).to.equal(400);
      expect(res.body.error).to.equal('invalid_scope');
    });

    it('when a public app asks for more than its registration, then it gets only the intersection', async () => {
      const limited = rig.clients.limitedApp;
      const res = await loginForToken(
        rig,
        { client: limited, scope: 'launch/patient openid fhirUser offline_access patient/*.cruds user/*.cruds system/*.cruds' },
        rig.idp.addUser(pscProfessional()),
        patient.id
      );
      expect(res.scope.split(' ')).to.have.members(['launch/patient', 'openid', 'fhirUser', 'offline_access', 'patient/Patient.rs', 'patient/DocumentReference.rs']);
      await expectOutcome(await rigFetch(rig, `Consent?patient=${patient.id}`, res.access_token), 403, 'INSUFFICIENT_SCOPE');
      await expectOutcome(await rigFetch(rig, 'Patient', res.access_token, { method: 'POST', body: JSON.stringify({ resourceType: 'Patient' }) }), 403, 'INSUFFICIENT_SCOPE');
    });

    it('when a patient user asks for user/ scopes, then they are not granted', async () => {
      const ins = patient.identifier?.[0] as { system: string; value: string };
      const res = await loginForToken(rig, { scope: 'launch/patient openid user/*.cruds patient/*.rs' }, rig.idp.addUser(insPatient(ins.system, ins.value)));
      expect(res.scope.split(' ')).to.have.members(['launch/patient', 'openid', 'patient/*.rs']);
    });
  });

  describe('a patient/ token and the data of other patients', () => {
    let cruds: TokenResponse;
    let docA: DocumentReference & { id: string };
    let docB: DocumentReference & { id: string };
    /** A's document whose author is patient B. */
    let docAByB: DocumentReference & { id: string };
    /** B's document whose author is patient A. */
    let docBByA: DocumentReference & { id: string };
    /** First B's, then moved to A: its first version belongs to B's record. */
    let moved: DocumentReference & { id: string };

    before(async () => {
      docA = await createDocument(rig, patient.id);
      docB = await createDocument(rig, other.id);
      docAByB = await createDocument(rig, patient.id, { author: [{ reference: `Patient/${other.id}` }] });
      docBByA = await createDocument(rig, other.id, { author: [{ reference: `Patient/${patient.id}` }] });
      moved = await createDocument(rig, other.id, { description: 'version of B' });
      const put = await rigFetch(rig, `DocumentReference/${moved.id}`, await rigSystemToken(rig), {
        method: 'PUT',
        body: JSON.stringify({ ...moved, subject: { reference: `Patient/${patient.id}` }, description: 'version of A' }),
      });
      expect(put.status).to.equal(200);
      cruds = await launchToken('patient/*.cruds');
    });

    const search = async (path: string, accessToken = token.access_token): Promise<Bundle> => {
      const res = await rigFetch(rig, path, accessToken);
      const text = await res.text();
      expect(res.status, text).to.equal(200);
      return JSON.parse(text) as Bundle;
    };
    const idsIn = (bundle: Bundle, type?: string): string[] =>
      (bundle.entry ?? []).filter((e) => !type || e.resource?.resourceType === type).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);

    it("when the token reads another patient, then 403 OUTSIDE_PATIENT_CONTEXT, for the Patient and for their document", async () => {
      await expectOutcome(await rigFetch(rig, `Patient/${other.id}`, token.access_token), 403, 'OUTSIDE_PATIENT_CONTEXT');
      await expectOutcome(await rigFetch(rig, `DocumentReference/${docB.id}`, token.access_token), 403, 'OUTSIDE_PATIENT_CONTEXT');
      expect((await rigFetch(rig, `DocumentReference/${docA.id}`, token.access_token)).status).to.equal(200);
    });

    it("when the token searches documents, even with patient=<other>, then only its patient's rows come back", async () => {
      const all = await search('DocumentReference?_count=100');
      const subjects = new Set((all.entry ?? []).map((e) => (e.resource as DocumentReference).subject?.reference));
      expect([...subjects]).to.deep.equal([`Patient/${patient.id}`]);
      expect(idsIn(all)).to.include(`DocumentReference/${docA.id}`).and.not.include(`DocumentReference/${docB.id}`);
      const foreign = await search(`DocumentReference?patient=${other.id}`);
      expect(foreign.total).to.equal(0);
      const byId = await search(`DocumentReference?_id=${docB.id}`);
      expect(byId.total).to.equal(0);
    });

    it("when the token searches Patients, even by the other patient's INS, then only its patient can come back", async () => {
      const ins = other.identifier?.[0] as { system: string; value: string };
      expect((await search(`Patient?identifier=${ins.system}|${ins.value}`)).total).to.equal(0);
      expect(idsIn(await search('Patient?_count=100'))).to.deep.equal([`Patient/${patient.id}`]);
    });

    it('when the token uses _include towards another patient, then that patient is not included', async () => {
      const path = `DocumentReference?_id=${docAByB.id}&_include=DocumentReference:author`;
      // Control: the system token sees the included author.
      expect(idsIn(await search(path, await rigSystemToken(rig)), 'Patient')).to.deep.equal([`Patient/${other.id}`]);
      const bundle = await search(path);
      expect(idsIn(bundle)).to.deep.equal([`DocumentReference/${docAByB.id}`]);
    });

    it("when the token uses _revinclude, then another patient's resources pointing at its patient are not included", async () => {
      const path = `Patient?_id=${patient.id}&_revinclude=DocumentReference:author`;
      expect(idsIn(await search(path, await rigSystemToken(rig)))).to.include(`DocumentReference/${docBByA.id}`);
      expect(idsIn(await search(path))).to.deep.equal([`Patient/${patient.id}`]);
    });

    it("when the token reads history, then another patient's versions never show", async () => {
      const instance = await search(`DocumentReference/${moved.id}/_history`);
      expect((instance.entry ?? []).map((e) => (e.resource as DocumentReference | undefined)?.description)).to.deep.equal(['version of A']);
      const typeHistory = await search('DocumentReference/_history?_count=100');
      const ids = idsIn(typeHistory);
      expect(ids).to.include(`DocumentReference/${docA.id}`);
      expect(ids).to.not.include(`DocumentReference/${docB.id}`);
      expect((typeHistory.entry ?? []).every((e) => !e.resource || (e.resource as DocumentReference).subject?.reference === `Patient/${patient.id}`)).to.equal(true);
      await expectOutcome(await rigFetch(rig, `Patient/${other.id}/_history`, token.access_token), 403, 'OUTSIDE_PATIENT_CONTEXT');
      await expectOutcome(await rigFetch(rig, `DocumentReference/${docB.id}/_history/1`, token.access_token), 403, 'OUTSIDE_PATIENT_CONTEXT');
    });

    it("when a patient/*.cruds token writes into another patient's record, then 403 OUTSIDE_PATIENT_CONTEXT", async () => {
      const create = await rigFetch(rig, 'DocumentReference', cruds.access_token, { method: 'POST', body: JSON.stringify({ ...docB, id: undefined, meta: undefined }) });
      await expectOutcome(create, 403, 'OUTSIDE_PATIENT_CONTEXT');
      const update = await rigFetch(rig, `DocumentReference/${docB.id}`, cruds.access_token, { method: 'PUT', body: JSON.stringify({ ...docB, description: 'changed' }) });
      await expectOutcome(update, 403, 'OUTSIDE_PATIENT_CONTEXT');
      const steal = await rigFetch(rig, `DocumentReference/${docA.id}`, cruds.access_token, {
        method: 'PUT',
        body: JSON.stringify({ ...docA, subject: { reference: `Patient/${other.id}` } }),
      });
      await expectOutcome(steal, 403, 'OUTSIDE_PATIENT_CONTEXT');
      await expectOutcome(await rigFetch(rig, `DocumentReference/${docB.id}`, cruds.access_token, { method: 'DELETE' }), 403, 'OUTSIDE_PATIENT_CONTEXT');
    });
  });
});
