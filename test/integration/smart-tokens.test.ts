import { expect } from 'chai';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JWK } from 'jose';
import type { Bundle, Consent, DocumentReference, Patient } from '@medplum/fhirtypes';
import { secretHash } from '../../src/auth/hash.js';
import { clientAssertion, postForm } from '../helpers/auth.js';
import { expectOutcome, testPatient, unique } from '../helpers/fhir.js';
import { Browser } from '../helpers/oauth-browser.js';
import { testConsent, testDocumentReference } from '../helpers/resources.js';
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
  startSmartRig,
  type AuthorizeOutcome,
  type SmartRig,
  type TokenResponse,
} from '../helpers/smart-flow.js';
import { insPatient, pscProfessional } from '../helpers/upstream-idp.js';

type Form = Awaited<ReturnType<typeof postForm>>;

const basic = (clientId: string, secret: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` });

describe('SMART tokens: discovery, bearer checks, scopes, introspection, revocation, launches', function () {
  let rig: SmartRig;
  let patient: Patient & { id: string };
  let other: Patient & { id: string };

  before(async () => {
    rig = await startSmartRig();
    patient = await createPatient(rig);
    other = await createPatient(rig);
  });

  after(async () => {
    await rig.close();
  });

  describe('discovery', () => {
    it('when the SMART configuration is read without a token, then it has every SMART 2 required field, S256 only, and CORS', async () => {
      const res = await fetch(`${rig.fhirBase}/.well-known/smart-configuration`, { headers: { origin: 'https://app.example.com' } });
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      expect(res.headers.get('access-control-allow-origin')).to.equal('*');
      const doc = (await res.json()) as Record<string, unknown>;
      expect(doc).to.include({
        issuer: rig.baseUrl,
        jwks_uri: `${rig.baseUrl}/auth/jwks`,
        authorization_endpoint: `${rig.baseUrl}/auth/authorize`,
        token_endpoint: rig.tokenUrl,
        introspection_endpoint: `${rig.baseUrl}/auth/introspect`,
        revocation_endpoint: `${rig.baseUrl}/auth/revoke`,
      });
      expect(doc.grant_types_supported).to.include.members(['authorization_code', 'client_credentials', 'refresh_token']);
      expect(doc.code_challenge_methods_supported).to.deep.equal(['S256']);
      expect(doc.response_types_supported).to.deep.equal(['code']);
      expect(doc.token_endpoint_auth_methods_supported).to.include.members(['client_secret_basic', 'private_key_jwt']);
      expect(doc.token_endpoint_auth_signing_alg_values_supported).to.include.members(['RS384', 'ES384']);
      expect(doc.scopes_supported).to.include.members(['openid', 'fhirUser', 'launch', 'launch/patient', 'offline_access']);
      expect(doc.capabilities).to.include.members([
        'launch-ehr',
        'launch-standalone',
        'client-public',
        'client-confidential-symmetric',
        'client-confidential-asymmetric',
        'sso-openid-connect',
        'context-banner',
        'context-ehr-patient',
        'context-standalone-patient',
        'permission-offline',
        'permission-patient',
        'permission-user',
        'permission-v1',
        'permission-v2',
      ]);
    });

    it('when the SMART configuration advertises authorize-post, then a POSTed authorisation request works', async () => {
      const doc = (await (await fetch(`${rig.fhirBase}/.well-known/smart-configuration`)).json()) as { capabilities: string[] };
      expect(doc.capabilities).to.include('authorize-post');
      const { url } = authorizeUrl(rig, { scope: 'openid user/*.rs' });
      const res = await fetch(`${rig.baseUrl}/auth/authorize`, { method: 'POST', body: new URL(url).searchParams, redirect: 'manual' });
      expect(res.status).to.equal(302);
      expect(res.headers.get('location')).to.match(new RegExp(`^${rig.idp.issuer}/authorize\\?`));
    });

    it('when the OpenID configuration is read, then it names this issuer, its endpoints, the JWKS and S256', async () => {
      const res = await fetch(`${rig.baseUrl}/.well-known/openid-configuration`);
      expect(res.status).to.equal(200);
      const doc = (await res.json()) as Record<string, unknown>;
      expect(doc).to.include({ issuer: rig.baseUrl, authorization_endpoint: `${rig.baseUrl}/auth/authorize`, token_endpoint: rig.tokenUrl, jwks_uri: `${rig.baseUrl}/auth/jwks` });
      expect(doc.response_types_supported).to.deep.equal(['code']);
      expect(doc.code_challenge_methods_supported).to.deep.equal(['S256']);
      expect(doc.subject_types_supported).to.include('public');
      expect(doc.id_token_signing_alg_values_supported).to.include('ES256');
    });

    it('when the JWKS is read, then it has public keys only, and they verify issued access tokens', async () => {
      const res = await fetch(`${rig.baseUrl}/auth/jwks`);
      expect(res.status).to.equal(200);
      const jwks = (await res.json()) as { keys: JWK[] };
      expect(jwks.keys.length).to.be.greaterThan(0);
      for (const key of jwks.keys) {
        expect(key).to.not.have.any.keys('d', 'p', 'q', 'dp', 'dq', 'qi', 'k');
        expect(key.kid).to.be.a('string');
      }
      const { payload, protectedHeader } = await jwtVerify(await rigSystemToken(rig), createLocalJWKSet(jwks), { issuer: rig.baseUrl, audience: rig.fhirBase });
      expect(protectedHeader.alg).to.be.oneOf(['ES256', 'RS256']);
      expect(payload).to.include({ client_id: rig.backend.clientId, scope: 'system/*.cruds' });
      expect(payload.jti).to.be.a('string');
      expect((payload.exp as number) - (payload.iat as number)).to.be.at.most(3600);
    });
  });

  describe('bearer tokens on /fhir', () => {
    it('when /fhir is called without a token, then 401 with WWW-Authenticate: Bearer and an OperationOutcome', async () => {
      const res = await rigFetch(rig, `Patient/${patient.id}`, undefined);
      expect(res.headers.get('www-authenticate')).to.match(/^Bearer /);
      await expectOutcome(res, 401, 'UNAUTHORIZED');
    });

    it('when /fhir is called with a malformed token, then 401 with error="invalid_token"', async () => {
      const res = await rigFetch(rig, 'Patient', 'not-a-jwt');
      expect(res.headers.get('www-authenticate')).to.match(/^Bearer .*error="invalid_token"/);
      await expectOutcome(res, 401, 'UNAUTHORIZED');
    });

    it('when /fhir is called with Basic credentials instead of a bearer token, then 401', async () => {
      const app = rig.clients.confidentialApp;
      const res = await rigFetch(rig, 'Patient', undefined, { headers: basic(app.clientId, app.secret as string) });
      expect(res.headers.get('www-authenticate')).to.match(/^Bearer /);
      await expectOutcome(res, 401, 'UNAUTHORIZED');
    });

    it('when the CapabilityStatement and SMART configuration are read without a token, then they are served', async () => {
      expect((await rigFetch(rig, 'metadata', undefined)).status).to.equal(200);
      expect((await rigFetch(rig, '.well-known/smart-configuration', undefined)).status).to.equal(200);
    });

    it('when the token lacks the scope, then 403 names the missing scope, with WWW-Authenticate error="insufficient_scope"', async () => {
      const token = await rigSystemToken(rig, 'system/Patient.rs');
      const res = await rigFetch(rig, `Consent?patient=${patient.id}`, token);
      expect(res.headers.get('www-authenticate')).to.equal('Bearer error="insufficient_scope"');
      const outcome = await expectOutcome(res, 403, 'INSUFFICIENT_SCOPE');
      expect(outcome.issue[0].details?.text).to.contain('system/Consent.s');
    });
  });

  describe('scopes, per interaction', () => {
    it('when the token has v1 patient/*.read, then reads and searches pass and writes are 403', async () => {
      const token = await ehrLaunchToken(rig, patient.id, 'patient/*.read');
      expect(token.scope.split(' ')).to.include('patient/*.read');
      expect((await rigFetch(rig, `Patient/${patient.id}`, token.access_token)).status).to.equal(200);
      expect((await rigFetch(rig, `DocumentReference?patient=${patient.id}`, token.access_token)).status).to.equal(200);
      const doc = { resourceType: 'DocumentReference', status: 'current', type: { text: 'note' }, subject: { reference: `Patient/${patient.id}` }, content: [{ attachment: { contentType: 'text/plain' } }] };
      await expectOutcome(await rigFetch(rig, 'DocumentReference', token.access_token, { method: 'POST', body: JSON.stringify(doc) }), 403, 'INSUFFICIENT_SCOPE');
      await expectOutcome(await rigFetch(rig, `Patient/${patient.id}`, token.access_token, { method: 'PUT', body: JSON.stringify(patient) }), 403, 'INSUFFICIENT_SCOPE');
    });

    it('when the token has v1 user/DocumentReference.write, then it creates documents but cannot read them', async () => {
      const token = await loginForToken(rig, { scope: 'openid user/DocumentReference.write' }, rig.idp.addUser(pscProfessional()));
      expect(token.scope.split(' ')).to.include('user/DocumentReference.write');
      const created = await rigFetch(rig, 'DocumentReference', token.access_token, { method: 'POST', body: JSON.stringify(testDocumentReference(patient.id)) });
      expect(created.status, await created.clone().text()).to.equal(201);
      const { id } = (await created.json()) as DocumentReference;
      await expectOutcome(await rigFetch(rig, `DocumentReference/${id as string}`, token.access_token), 403, 'INSUFFICIENT_SCOPE');
    });

    it('when the token has v2 patient/*.rs, then create, update and delete are 403', async () => {
      const doc = await createDocument(rig, patient.id);
      const token = await ehrLaunchToken(rig, patient.id, 'patient/*.rs');
      expect((await rigFetch(rig, `DocumentReference/${doc.id}`, token.access_token)).status).to.equal(200);
      await expectOutcome(await rigFetch(rig, `DocumentReference/${doc.id}`, token.access_token, { method: 'PUT', body: JSON.stringify(doc) }), 403, 'INSUFFICIENT_SCOPE');
      await expectOutcome(await rigFetch(rig, `DocumentReference/${doc.id}`, token.access_token, { method: 'DELETE' }), 403, 'INSUFFICIENT_SCOPE');
      const copy = { ...doc, id: undefined, meta: undefined };
      await expectOutcome(await rigFetch(rig, 'DocumentReference', token.access_token, { method: 'POST', body: JSON.stringify(copy) }), 403, 'INSUFFICIENT_SCOPE');
    });

    it('when the token has patient/Patient.r only, then its patient is readable but a Patient search is 403', async () => {
      const token = await ehrLaunchToken(rig, patient.id, 'patient/Patient.r');
      expect((await rigFetch(rig, `Patient/${patient.id}`, token.access_token)).status).to.equal(200);
      await expectOutcome(await rigFetch(rig, `Patient?_id=${patient.id}`, token.access_token), 403, 'INSUFFICIENT_SCOPE');
    });

    it('when the token has user/Consent.cruds, then Consents are created, read, updated and deleted, and Patients are 403', async () => {
      const user = rig.idp.addUser(pscProfessional());
      const token = await loginForToken(rig, { scope: 'openid fhirUser user/Consent.cruds' }, user);
      // What a professional may record (DMP rule 1): the patient's authorisation of themselves, for care.
      const ownAuthorisation: Consent = {
        ...testConsent(patient.id),
        provision: {
          type: 'permit',
          actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] }, reference: { identifier: { system: 'urn:oid:1.2.250.1.71.4.2.1', value: user.claims.SubjectNameID as string } } }],
          purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' }],
        },
      };
      const created = await rigFetch(rig, 'Consent', token.access_token, { method: 'POST', body: JSON.stringify(ownAuthorisation) });
      expect(created.status, await created.clone().text()).to.equal(201);
      const consent = (await created.json()) as Consent & { id: string };
      expect((await rigFetch(rig, `Consent/${consent.id}`, token.access_token)).status).to.equal(200);
      expect((await rigFetch(rig, `Consent?patient=${patient.id}`, token.access_token)).status).to.equal(200);
      const updated = await rigFetch(rig, `Consent/${consent.id}`, token.access_token, { method: 'PUT', body: JSON.stringify({ ...consent, status: 'inactive' }) });
      expect(updated.status).to.equal(200);
      expect((await rigFetch(rig, `Consent/${consent.id}`, token.access_token, { method: 'DELETE' })).status).to.equal(200);
      await expectOutcome(await rigFetch(rig, `Patient/${patient.id}`, token.access_token), 403, 'INSUFFICIENT_SCOPE');
    });

    it('when a backend token has system/Patient.c, then it creates Patients but cannot read or search them', async () => {
      const token = await rigSystemToken(rig, 'system/Patient.c');
      const created = await rigFetch(rig, 'Patient', token, { method: 'POST', body: JSON.stringify(testPatient()) });
      expect(created.status, await created.clone().text()).to.equal(201);
      const { id } = (await created.json()) as Patient;
      await expectOutcome(await rigFetch(rig, `Patient/${id as string}`, token), 403, 'INSUFFICIENT_SCOPE');
      await expectOutcome(await rigFetch(rig, `Patient?_id=${id as string}`, token), 403, 'INSUFFICIENT_SCOPE');
    });

    describe('granular scope patient/DocumentReference.rs?category=<system>|<code>', () => {
      const system = 'urn:test:smart-category';
      let code: string;
      let inside: DocumentReference & { id: string };
      let outside: DocumentReference & { id: string };
      let token: TokenResponse;

      before(async () => {
        code = unique('cat');
        inside = await createDocument(rig, patient.id, { category: [{ coding: [{ system, code }] }] });
        outside = await createDocument(rig, patient.id, { category: [{ coding: [{ system, code: unique('cat') }] }] });
        token = await ehrLaunchToken(rig, patient.id, `patient/DocumentReference.rs?category=${system}|${code}`);
      });

      it('when the token is issued, then its scope keeps the constraint', () => {
        expect(token.scope.split(' ')).to.include(`patient/DocumentReference.rs?category=${system}|${code}`);
      });

      it('when the token searches documents, then only those of that category come back', async () => {
        const res = await rigFetch(rig, `DocumentReference?patient=${patient.id}&_count=100`, token.access_token);
        const bundle = (await res.json()) as Bundle<DocumentReference>;
        expect(res.status).to.equal(200);
        expect((bundle.entry ?? []).map((e) => e.resource?.id)).to.deep.equal([inside.id]);
      });

      it('when the token reads a document of another category, then 403; of its category, then 200', async () => {
        expect((await rigFetch(rig, `DocumentReference/${inside.id}`, token.access_token)).status).to.equal(200);
        await expectOutcome(await rigFetch(rig, `DocumentReference/${outside.id}`, token.access_token), 403, 'OUTSIDE_PATIENT_CONTEXT');
      });
    });
  });

  describe('introspection (RFC 7662)', () => {
    let user: TokenResponse;
    const introspect = (token: string, headers: Record<string, string>, form: Record<string, string> = {}): Promise<Form> =>
      postForm(`${rig.baseUrl}/auth/introspect`, { token, ...form }, headers);
    const asBackend = async (): Promise<Record<string, string>> => ({ authorization: `Bearer ${await rigSystemToken(rig)}` });

    before(async () => {
      user = await ehrLaunchToken(rig, patient.id, 'patient/*.rs');
    });

    it('when an active token is introspected, then active is true with scope, client_id, exp, patient, fhirUser and access_mode', async () => {
      const res = await introspect(user.access_token, await asBackend());
      expect(res.status).to.equal(200);
      expect(res.body).to.include({
        active: true,
        scope: user.scope,
        client_id: rig.clients.publicApp.clientId,
        patient: patient.id,
        fhirUser: user.fhirUser,
        access_mode: 'normal',
        iss: rig.baseUrl,
      });
      expect(res.body.exp).to.be.a('number').above(Date.now() / 1000);
      expect(res.headers.get('cache-control')).to.equal('no-store');
    });

    it('when the caller authenticates with client_secret_basic or a client assertion, then it may introspect too', async () => {
      const app = rig.clients.confidentialApp;
      expect((await introspect(user.access_token, basic(app.clientId, app.secret as string))).body.active).to.equal(true);
      const assertion = await clientAssertion(rig.tokenUrl, rig.backend.clientId, rig.backend.key);
      const viaAssertion = await introspect(user.access_token, {}, { client_assertion_type: ASSERTION_TYPE, client_assertion: assertion });
      expect(viaAssertion.body.active).to.equal(true);
    });

    it('when a garbage token is introspected, then the answer is exactly {active: false}', async () => {
      const res = await introspect('garbage', await asBackend());
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ active: false });
    });

    it('when a revoked token is introspected, then the answer is {active: false}', async () => {
      const victim = await ehrLaunchToken(rig, patient.id, 'patient/*.rs');
      const revoked = await postForm(`${rig.baseUrl}/auth/revoke`, { token: victim.access_token, client_id: rig.clients.publicApp.clientId });
      expect(revoked.status).to.equal(200);
      expect((await introspect(victim.access_token, await asBackend())).body).to.deep.equal({ active: false });
    });

    it('when the caller does not authenticate, then 401 invalid_client', async () => {
      const res = await introspect(user.access_token, {});
      expect(res.status).to.equal(401);
      expect(res.body.error).to.equal('invalid_client');
      expect(res.body).to.not.have.property('active');
    });

    it('when the caller only names a public client (no secret, no token), then 401 invalid_client', async () => {
      const res = await introspect(user.access_token, {}, { client_id: rig.clients.publicApp.clientId });
      expect(res.status).to.equal(401);
      expect(res.body.error).to.equal('invalid_client');
    });

    it('when the caller presents a wrong secret or a bad bearer token, then 401 invalid_client', async () => {
      const app = rig.clients.confidentialApp;
      expect((await introspect(user.access_token, basic(app.clientId, 'wrong'))).status).to.equal(401);
      expect((await introspect(user.access_token, { authorization: 'Bearer not-a-token' })).status).to.equal(401);
    });
  });

  describe('revocation (RFC 7009)', () => {
    const revoke = (form: Record<string, string>, headers: Record<string, string> = {}): Promise<Form> => postForm(`${rig.baseUrl}/auth/revoke`, form, headers);

    it('when an app revokes its access token, then /fhir refuses it with 401', async () => {
      const token = await ehrLaunchToken(rig, patient.id, 'patient/*.rs');
      expect((await rigFetch(rig, `Patient/${patient.id}`, token.access_token)).status).to.equal(200);
      const res = await revoke({ token: token.access_token, client_id: rig.clients.publicApp.clientId });
      expect(res.status).to.equal(200);
      const after = await rigFetch(rig, `Patient/${patient.id}`, token.access_token);
      expect(after.headers.get('www-authenticate')).to.contain('invalid_token');
      await expectOutcome(after, 401, 'UNAUTHORIZED');
    });

    it('when an app revokes its refresh token, then the refresh token and the access tokens of its family stop working', async () => {
      const token = await ehrLaunchToken(rig, patient.id, 'patient/*.rs offline_access');
      const res = await revoke({ token: token.refresh_token as string, token_type_hint: 'refresh_token', client_id: rig.clients.publicApp.clientId });
      expect(res.status).to.equal(200);
      const again = await refresh(rig, token.refresh_token as string);
      expect(again.status).to.equal(400);
      expect(again.body.error).to.equal('invalid_grant');
      expect((await rigFetch(rig, `Patient/${patient.id}`, token.access_token)).status).to.equal(401);
    });

    it('when a refresh token is revoked without a type hint, then it is revoked too', async () => {
      const token = await ehrLaunchToken(rig, patient.id, 'patient/*.rs offline_access');
      expect((await revoke({ token: token.refresh_token as string, client_id: rig.clients.publicApp.clientId })).status).to.equal(200);
      expect((await refresh(rig, token.refresh_token as string)).status).to.equal(400);
    });

    it("when another client revokes an app's tokens, then they keep working", async () => {
      const token = await ehrLaunchToken(rig, patient.id, 'patient/*.rs offline_access');
      const other = rig.clients.otherApp.clientId;
      expect((await revoke({ token: token.access_token, client_id: other })).status).to.equal(200);
      expect((await revoke({ token: token.refresh_token as string, client_id: other })).status).to.equal(200);
      expect((await rigFetch(rig, `Patient/${patient.id}`, token.access_token)).status).to.equal(200);
      expect((await refresh(rig, token.refresh_token as string)).status).to.equal(200);
    });

    it('when the revocation caller does not authenticate, then 401 invalid_client', async () => {
      const res = await revoke({ token: 'anything' });
      expect(res.status).to.equal(401);
      expect(res.body.error).to.equal('invalid_client');
    });

    it('when an unknown token is revoked, then the answer is 200 anyway', async () => {
      const res = await revoke({ token: 'never-issued', client_id: rig.clients.publicApp.clientId });
      expect(res.status).to.equal(200);
    });
  });

  describe('token endpoint answers', () => {
    const expectNoStore = (res: Form): void => {
      expect(res.headers.get('cache-control')).to.equal('no-store');
      expect(res.headers.get('pragma')).to.equal('no-cache');
    };

    it('when a token is issued (authorization_code, refresh_token, client_credentials), then the answer says Cache-Control: no-store and Pragma: no-cache', async () => {
      const launch = await createLaunch(rig, patient.id, rig.clients.publicApp.clientId);
      const outcome = await authorize(rig, { scope: 'launch openid patient/*.rs offline_access', launch }, rig.idp.addUser(pscProfessional()));
      const { code, verifier } = outcome as Extract<AuthorizeOutcome, { kind: 'code' }>;
      const byCode = await redeemCode(rig, code, verifier);
      expect(byCode.status).to.equal(200);
      expectNoStore(byCode);
      const byRefresh = await refresh(rig, byCode.body.refresh_token as string);
      expect(byRefresh.status).to.equal(200);
      expectNoStore(byRefresh);
      const byAssertion = await backendTokenRequest(rig, rig.backend, 'system/Patient.rs');
      expect(byAssertion.status).to.equal(200);
      expectNoStore(byAssertion);
      expect(byAssertion.body).to.include({ token_type: 'Bearer', scope: 'system/Patient.rs' });
      expect(byAssertion.body.expires_in).to.be.a('number').at.most(300);
    });

    it('when a code is older than its 60 seconds, then it is invalid_grant', async () => {
      const launch = await createLaunch(rig, patient.id, rig.clients.publicApp.clientId);
      const outcome = await authorize(rig, { scope: 'launch openid patient/*.rs', launch }, rig.idp.addUser(pscProfessional()));
      const { code, verifier } = outcome as Extract<AuthorizeOutcome, { kind: 'code' }>;
      const { rows } = await rig.db.query<{ ttl: number }>('SELECT extract(epoch FROM expires_at - now())::int AS ttl FROM auth_codes WHERE code_hash = $1', [secretHash(code)]);
      expect(rows[0].ttl).to.be.within(50, 60);
      await rig.db.query(`UPDATE auth_codes SET expires_at = now() - interval '1 second' WHERE code_hash = $1`, [secretHash(code)]);
      const res = await redeemCode(rig, code, verifier);
      expect(res.status).to.equal(400);
      expect(res.body.error).to.equal('invalid_grant');
    });

    it('when a user token is issued, then it lives at most an hour and expires_in matches its exp', async () => {
      const token = await ehrLaunchToken(rig, patient.id, 'patient/*.rs');
      const claims = decodeJwt(token.access_token);
      expect(token.expires_in).to.be.a('number').at.most(3600);
      expect((claims.exp as number) - (claims.iat as number)).to.equal(token.expires_in);
      expect(claims.jti).to.be.a('string');
    });

    it('when the token request fails, then the error answer is not cacheable either', async () => {
      const res = await postForm(rig.tokenUrl, { grant_type: 'authorization_code', code: 'nope', redirect_uri: rig.clients.publicApp.redirectUri, code_verifier: 'x'.repeat(43), client_id: rig.clients.publicApp.clientId });
      expect(res.status).to.equal(400);
      expect(res.body.error).to.equal('invalid_grant');
      expectNoStore(res);
    });

    it('when the grant type is unknown, then unsupported_grant_type', async () => {
      const res = await postForm(rig.tokenUrl, { grant_type: 'password', client_id: rig.clients.publicApp.clientId });
      expect(res.status).to.equal(400);
      expect(res.body.error).to.equal('unsupported_grant_type');
    });

    it('when a refresh asks for more than the grant and is refused, then the refresh token still works', async () => {
      const token = await ehrLaunchToken(rig, patient.id, 'patient/*.rs offline_access');
      const refused = await refresh(rig, token.refresh_token as string, rig.clients.publicApp, 'patient/*.cruds');
      expect(refused.body.error).to.equal('invalid_scope');
      const res = await refresh(rig, token.refresh_token as string);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect((await rigFetch(rig, `Patient/${patient.id}`, token.access_token)).status).to.equal(200);
    });
  });

  describe('EHR launch values', () => {
    it('when a launch value has served once, then a second authorisation with it gets error=invalid_request', async () => {
      const launch = await createLaunch(rig, patient.id, rig.clients.publicApp.clientId);
      const first = await authorize(rig, { scope: 'launch openid patient/*.rs', launch }, rig.idp.addUser(pscProfessional()));
      expect(first.kind).to.equal('code');
      const second = await authorize(rig, { scope: 'launch openid patient/*.rs', launch }, rig.idp.addUser(pscProfessional()));
      expect(second.kind).to.equal('error');
      expect((second as Extract<AuthorizeOutcome, { kind: 'error' }>).error).to.equal('invalid_request');
    });

    it('when a patient user\'s token asks for a launch, then it is refused (only an EHR — system client or professional — launches)', async () => {
      const ins = patient.identifier?.[0] as { system: string; value: string };
      const token = await loginForToken(rig, { scope: 'launch/patient openid patient/*.rs' }, rig.idp.addUser(insPatient(ins.system, ins.value)));
      const res = await fetch(`${rig.baseUrl}/auth/launch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ patient: other.id }),
      });
      expect(res.status).to.equal(403);
      expect(((await res.json()) as { error: string }).error).to.equal('invalid_client');
    });

    it('when another app uses a launch made for an app, then it gets error=invalid_request', async () => {
      const launch = await createLaunch(rig, patient.id, rig.clients.publicApp.clientId);
      const outcome = await authorize(rig, { client: rig.clients.otherApp, scope: 'launch openid patient/*.rs', launch });
      expect(outcome.kind).to.equal('error');
      expect((outcome as Extract<AuthorizeOutcome, { kind: 'error' }>).error).to.equal('invalid_request');
      // The launch is still good for the app it was made for.
      const own = await authorize(rig, { scope: 'launch openid patient/*.rs', launch }, rig.idp.addUser(pscProfessional()));
      expect(own.kind).to.equal('code');
    });

    it('when two logins race on one launch, then only the first to come back gets a code', async () => {
      const launch = await createLaunch(rig, other.id, rig.clients.publicApp.clientId);
      // Both authorisation requests pass the launch check before either login finishes.
      const browsers = [new Browser(), new Browser()];
      const logins = await Promise.all(
        browsers.map(async (b) => {
          const page = await b.navigate(authorizeUrl(rig, { scope: 'launch openid patient/*.rs', launch }).url);
          expect(page.status).to.equal(200);
          return { b, requestId: /name="request" value="([^"]+)"/.exec(page.text)?.[1] as string };
        })
      );
      const user = rig.idp.addUser(pscProfessional());
      const ends = [];
      for (const { b, requestId } of logins) {
        ends.push(await b.navigate(`${rig.idp.issuer}/login`, (u) => u.href.startsWith(rig.clients.publicApp.redirectUri), { form: { request: requestId, user: user.id, action: 'login' } }));
      }
      expect(ends.map((e) => (e.url.searchParams.get('code') ? 'code' : e.url.searchParams.get('error')))).to.deep.equal(['code', 'invalid_request']);
    });

    it('when a launch is made, then it lives 5 minutes; once past that, authorisation with it gets error=invalid_request', async () => {
      const launch = await createLaunch(rig, patient.id, rig.clients.publicApp.clientId);
      const { rows } = await rig.db.query<{ ttl: number }>('SELECT extract(epoch FROM expires_at - now())::int AS ttl FROM auth_launches WHERE launch_hash = $1', [secretHash(launch)]);
      expect(rows[0].ttl).to.be.within(290, 300);
      // No waiting: the test moves the expiry into the past.
      await rig.db.query(`UPDATE auth_launches SET expires_at = now() - interval '1 second' WHERE launch_hash = $1`, [secretHash(launch)]);
      const outcome = await authorize(rig, { scope: 'launch openid patient/*.rs', launch });
      expect(outcome.kind).to.equal('error');
      expect((outcome as Extract<AuthorizeOutcome, { kind: 'error' }>).error).to.equal('invalid_request');
    });

    it('when /auth/launch is called without a token, then 401 invalid_token', async () => {
      const res = await fetch(`${rig.baseUrl}/auth/launch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ patient: patient.id }) });
      expect(res.status).to.equal(401);
      expect(res.headers.get('www-authenticate')).to.contain('Bearer');
      expect(((await res.json()) as { error: string }).error).to.equal('invalid_token');
    });

    it('when /auth/launch names an unknown patient or no patient, then 400 invalid_request', async () => {
      const call = (body: unknown): Promise<Response> =>
        rigSystemToken(rig).then((t) => fetch(`${rig.baseUrl}/auth/launch`, { method: 'POST', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }));
      const unknown = await call({ patient: 'does-not-exist' });
      expect(unknown.status).to.equal(400);
      expect(((await unknown.json()) as { error: string }).error).to.equal('invalid_request');
      expect((await call({})).status).to.equal(400);
    });
  });
});
