import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { importJWK, type JWK } from 'jose';
import type { DocumentReference, Patient } from '@medplum/fhirtypes';
import { buildApp } from '../../src/app.js';
import type { DemoUser } from '../../src/auth/demo-idp/users.js';
import { pkceS256, randomSecret } from '../../src/auth/hash.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logging/logger.js';
import type { Database } from '../../src/repo/pool.js';
import { clientAssertion, makeClientKey, postForm, TEST_REDIRECT_URI, type ClientKey } from './auth.js';
import { FHIR_JSON, testPatient } from './fhir.js';
import { Browser, type Page } from './oauth-browser.js';
import { testDocumentReference } from './resources.js';
import { getTestServer } from './server.js';
import { startFhirclientApp, type FhirclientApp, type SmartClient } from './smart-fhirclient-app.js';
import { pscProfessional, startUpstreamIdp, type UpstreamIdp } from './upstream-idp.js';

export const APP_SCOPE = 'openid fhirUser profile launch launch/patient offline_access online_access patient/*.cruds user/*.cruds';
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** A client of the rig, with what the tests need to act as it. */
export interface RigClient {
  readonly clientId: string;
  readonly redirectUri: string;
  /** client_secret_basic clients only. */
  readonly secret?: string;
}

export interface RigBackend {
  readonly clientId: string;
  readonly key: ClientKey;
}

/**
 * A second instance of the app (`buildApp`) whose upstream OpenID Connect provider is a test
 * provider on loopback (Pro Santé Connect stand-in), on the shared test server's database, with
 * its own registered clients. Its BASE_URL differs from the shared server's, so their tokens are
 * not interchangeable.
 */
export interface SmartRig {
  readonly baseUrl: string;
  readonly fhirBase: string;
  readonly tokenUrl: string;
  readonly db: Database;
  readonly idp: UpstreamIdp;
  readonly fhirclientApp: FhirclientApp;
  readonly clients: {
    /** Public app (PKCE, no secret), full app scope. */
    readonly publicApp: RigClient;
    /** client_secret_basic app, full app scope. */
    readonly confidentialApp: RigClient;
    /** Another public app (a launch made for one app must not serve it). */
    readonly otherApp: RigClient;
    /** Public app registered for `openid fhirUser launch/patient offline_access patient/Patient.rs patient/DocumentReference.rs` only. */
    readonly limitedApp: RigClient;
    /** client_secret_basic app whose redirect URI is the fhirclient app's. */
    readonly fhirclientApp: RigClient;
  };
  /** Backend Services client (ES384, `system/*.cruds`), DMP role operator: sets the data up. */
  readonly backend: RigBackend;
  /** Backend Services client (RS384) registered for `system/Patient.rs` only, DMP role insurer. */
  readonly patientReader: RigBackend;
  /** The insurer's Backend Services client (ES384, `system/*.cruds`, DMP role insurer). */
  readonly insurer: RigBackend;
  /** A Backend Services client (ES384, `system/*.cruds`) registered without a DMP role. */
  readonly roleLess: RigBackend;
  /** Every log line of the rig's app. */
  readonly logs: string[];
  /** Patients created through the rig, and the (patient, professional) authorisations already recorded. */
  readonly patients: string[];
  readonly authorised: Set<string>;
  close(): Promise<void>;
}

export async function startSmartRig(): Promise<SmartRig> {
  const shared = await getTestServer();
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const baseUrl = `http://127.0.0.1:${port}`;
  const idp = await startUpstreamIdp(shared.db, `${baseUrl}/auth/callback`);
  const fhirclientApp = await startFhirclientApp();

  const backendKey = await makeClientKey('ES384');
  const readerKey = await makeClientKey('RS384');
  const insurerKey = await makeClientKey('ES384');
  const roleLessKey = await makeClientKey('ES384');
  const secret = randomUUID();
  const fcSecret = randomUUID();
  const limitedScope = 'openid fhirUser launch/patient offline_access patient/Patient.rs patient/DocumentReference.rs';
  const registered = [
    { client_id: 'rig-backend', redirect_uris: [], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [backendKey.publicJwk] }, scope: 'system/*.cruds', grant_types: ['client_credentials'], dmp_role: 'operator' },
    { client_id: 'rig-patient-reader', redirect_uris: [], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [readerKey.publicJwk] }, scope: 'system/Patient.rs', grant_types: ['client_credentials'], dmp_role: 'insurer' },
    { client_id: 'rig-insurer', redirect_uris: [], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [insurerKey.publicJwk] }, scope: 'system/*.cruds', grant_types: ['client_credentials'], dmp_role: 'insurer' },
    { client_id: 'rig-role-less', redirect_uris: [], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [roleLessKey.publicJwk] }, scope: 'system/*.cruds', grant_types: ['client_credentials'] },
    { client_id: 'rig-public-app', redirect_uris: [TEST_REDIRECT_URI], token_endpoint_auth_method: 'none', scope: APP_SCOPE, grant_types: ['authorization_code', 'refresh_token'] },
    { client_id: 'rig-confidential-app', redirect_uris: [TEST_REDIRECT_URI], token_endpoint_auth_method: 'client_secret_basic', client_secret: secret, scope: APP_SCOPE, grant_types: ['authorization_code', 'refresh_token'] },
    { client_id: 'rig-other-app', redirect_uris: [TEST_REDIRECT_URI], token_endpoint_auth_method: 'none', scope: APP_SCOPE, grant_types: ['authorization_code', 'refresh_token'] },
    { client_id: 'rig-limited-app', redirect_uris: [TEST_REDIRECT_URI], token_endpoint_auth_method: 'none', scope: limitedScope, grant_types: ['authorization_code', 'refresh_token'] },
    { client_id: 'rig-fhirclient-app', redirect_uris: [fhirclientApp.redirectUri], token_endpoint_auth_method: 'client_secret_basic', client_secret: fcSecret, scope: APP_SCOPE, grant_types: ['authorization_code', 'refresh_token'] },
  ];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-smart-rig-'));
  const clientsFile = path.join(dir, 'smart-clients.json');
  fs.writeFileSync(clientsFile, JSON.stringify(registered, null, 2));

  const config = loadConfig({
    ...process.env,
    SMART_CLIENTS_FILE: clientsFile,
    PORT: String(port),
    BASE_URL: baseUrl,
    DATA_DIR: 'memory://',
    SEED_DEMO_DATA: 'false',
    SEARCH_MAX_COUNT: '100',
    LOG_LEVEL: 'info',
    OIDC_ISSUER: idp.issuer,
    OIDC_CLIENT_ID: idp.clientId,
    OIDC_CLIENT_SECRET: idp.clientSecret,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(...String(chunk).split('\n').filter((l) => l.trim() !== ''));
      done();
    },
  });
  server.on('request', buildApp({ config, db: shared.db, logger: createLogger('info', sink) }));
  return {
    baseUrl,
    fhirBase: `${baseUrl}/fhir`,
    tokenUrl: `${baseUrl}/auth/token`,
    db: shared.db,
    idp,
    fhirclientApp,
    clients: {
      publicApp: { clientId: 'rig-public-app', redirectUri: TEST_REDIRECT_URI },
      confidentialApp: { clientId: 'rig-confidential-app', redirectUri: TEST_REDIRECT_URI, secret },
      otherApp: { clientId: 'rig-other-app', redirectUri: TEST_REDIRECT_URI },
      limitedApp: { clientId: 'rig-limited-app', redirectUri: TEST_REDIRECT_URI },
      fhirclientApp: { clientId: 'rig-fhirclient-app', redirectUri: fhirclientApp.redirectUri, secret: fcSecret },
    },
    backend: { clientId: 'rig-backend', key: backendKey },
    patientReader: { clientId: 'rig-patient-reader', key: readerKey },
    insurer: { clientId: 'rig-insurer', key: insurerKey },
    roleLess: { clientId: 'rig-role-less', key: roleLessKey },
    logs,
    patients: [],
    authorised: new Set<string>(),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await idp.close();
      await fhirclientApp.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A client_credentials token request of a backend client (signed assertion); returns the raw answer. */
export async function backendTokenRequest(
  rig: SmartRig,
  backend: RigBackend,
  scope: string,
  assertionOverrides: Parameters<typeof clientAssertion>[3] = {}
): Promise<Awaited<ReturnType<typeof postForm>>> {
  const assertion = await clientAssertion(rig.tokenUrl, backend.clientId, backend.key, assertionOverrides);
  return postForm(rig.tokenUrl, { grant_type: 'client_credentials', scope, client_assertion_type: ASSERTION_TYPE, client_assertion: assertion });
}

const systemTokens = new WeakMap<SmartRig, Map<string, string>>();

/** A system token of one of the rig's backend clients (the operator `backend` and `system/*.cruds` unless asked), cached per rig. */
export async function rigSystemToken(rig: SmartRig, scope = 'system/*.cruds', backend: RigBackend = rig.backend): Promise<string> {
  const cache = systemTokens.get(rig) ?? new Map<string, string>();
  systemTokens.set(rig, cache);
  const key = `${backend.clientId} ${scope}`;
  const cached = cache.get(key);
  if (cached) {
    return cached;
  }
  const res = await backendTokenRequest(rig, backend, scope);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  cache.set(key, res.body.access_token as string);
  return res.body.access_token as string;
}

/** fetch() on the rig's FHIR base with a bearer token (none when `token` is undefined). */
export async function rigFetch(rig: SmartRig, path: string, token: string | undefined, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token !== undefined && !headers.has('authorization')) {
    headers.set('authorization', `Bearer ${token}`);
  }
  if (!headers.has('accept')) {
    headers.set('accept', FHIR_JSON);
  }
  if (typeof init.body === 'string' && !headers.has('content-type')) {
    headers.set('content-type', FHIR_JSON);
  }
  return fetch(`${rig.fhirBase}/${path.replace(/^\//, '')}`, { ...init, headers });
}

/** Creates a resource with the rig's system token; returns it as stored. */
export async function rigCreate<T extends { resourceType: string }>(rig: SmartRig, resource: T): Promise<T & { id: string }> {
  const res = await rigFetch(rig, resource.resourceType, await rigSystemToken(rig), { method: 'POST', body: JSON.stringify(resource) });
  const text = await res.text();
  expect(res.status, text).to.equal(201);
  return JSON.parse(text) as T & { id: string };
}

/** A new Patient (INS profile) with a unique INS and family name. */
export async function createPatient(rig: SmartRig, overrides: Partial<Patient> = {}): Promise<Patient & { id: string }> {
  const patient = await rigCreate(rig, testPatient(overrides));
  rig.patients.push(patient.id);
  return patient;
}

/**
 * DMP rule 1: a professional reads a patient's DMP only if the patient authorised them. These
 * SMART tests are about tokens, not about the DMP rules, so before a professional logs in the rig
 * records (through the API, as the patient's Consent) that every rig patient authorised them.
 */
export async function authoriseForRigPatients(rig: SmartRig, user: DemoUser | undefined): Promise<void> {
  const nationalId = user?.claims.SubjectNameID;
  if (typeof nationalId !== 'string') {
    return;
  }
  for (const patientId of rig.patients) {
    const key = `${patientId}|${nationalId}`;
    if (rig.authorised.has(key)) {
      continue;
    }
    await rigCreate(rig, {
      resourceType: 'Consent',
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: { reference: `Patient/${patientId}` },
      dateTime: new Date().toISOString(),
      policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
      provision: {
        type: 'permit',
        actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] }, reference: { identifier: { system: 'urn:oid:1.2.250.1.71.4.2.1', value: nationalId } } }],
        purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' }],
      },
    });
    rig.authorised.add(key);
  }
}

/** A new DocumentReference of a patient. */
export async function createDocument(rig: SmartRig, patientId: string, overrides: Partial<DocumentReference> = {}): Promise<DocumentReference & { id: string }> {
  return rigCreate(rig, { ...testDocumentReference(patientId), ...overrides });
}

/** `POST /auth/launch` with the backend's token: a launch value for `clientId` and the patient. */
export async function createLaunch(rig: SmartRig, patientId: string, clientId: string): Promise<string> {
  const res = await fetch(`${rig.baseUrl}/auth/launch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await rigSystemToken(rig)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ patient: patientId, client_id: clientId }),
  });
  const body = (await res.json()) as { launch?: string };
  expect(res.status, JSON.stringify(body)).to.equal(200);
  expect(body.launch).to.be.a('string');
  return body.launch as string;
}

export interface AuthorizeRequest {
  readonly client?: RigClient;
  readonly scope: string;
  readonly launch?: string;
  readonly accessMode?: string;
  readonly accessReason?: string;
  readonly nonce?: string;
  /** Extra or overriding authorisation parameters (e.g. `code_challenge_method: 'plain'`). */
  readonly params?: Record<string, string>;
}

/** Where a flow ended, from the app's point of view. */
export type AuthorizeOutcome =
  | { readonly kind: 'code'; readonly code: string; readonly state: string; readonly verifier: string; readonly browser: Browser }
  | { readonly kind: 'error'; readonly error: string; readonly description: string | null; readonly state: string | null; readonly browser: Browser }
  | { readonly kind: 'picker'; readonly requestId: string; readonly html: string; readonly verifier: string; readonly state: string; readonly browser: Browser }
  /** An HTML page of the authorisation server or provider that is not the login or picker page. */
  | { readonly kind: 'page'; readonly page: Page; readonly browser: Browser };

/** The authorisation URL an app would send the browser to (PKCE S256, state, aud = FHIR base). */
export function authorizeUrl(rig: SmartRig, req: AuthorizeRequest): { url: string; verifier: string; state: string } {
  const client = req.client ?? rig.clients.publicApp;
  const verifier = randomSecret();
  const state = randomUUID();
  const params: Record<string, string> = {
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    scope: req.scope,
    state,
    aud: rig.fhirBase,
    code_challenge: pkceS256(verifier),
    code_challenge_method: 'S256',
    ...(req.launch ? { launch: req.launch } : {}),
    ...(req.accessMode ? { access_mode: req.accessMode } : {}),
    ...(req.accessReason ? { access_reason: req.accessReason } : {}),
    ...(req.nonce ? { nonce: req.nonce } : {}),
    ...req.params,
  };
  return { url: `${rig.baseUrl}/auth/authorize?${new URLSearchParams(params).toString()}`, verifier, state: params.state };
}

/** Reads a demo-idp login page (hidden request id, form action). */
function loginForm(page: Page): { requestId: string; action: string } | undefined {
  const requestId = /name="request" value="([^"]+)"/.exec(page.text)?.[1];
  const action = /<form method="post" action="([^"]+)"/.exec(page.text)?.[1];
  return requestId && action ? { requestId, action: new URL(action.replace(/&amp;/g, '&'), page.url).href } : undefined;
}

function isAt(url: URL, redirectUri: string): boolean {
  return url.href.startsWith(`${redirectUri}?`) || url.href === redirectUri;
}

/** Classifies where the browser stopped: the app's redirect URI (code or error), the picker, or a page. */
function outcomeOf(page: Page, redirectUri: string, browser: Browser, verifier: string, state: string): AuthorizeOutcome {
  if (isAt(page.url, redirectUri)) {
    const q = page.url.searchParams;
    if (q.get('code')) {
      expect(q.get('state'), 'state echoed').to.equal(state);
      return { kind: 'code', code: q.get('code') as string, state: q.get('state') as string, verifier, browser };
    }
    return { kind: 'error', error: q.get('error') ?? '', description: q.get('error_description'), state: q.get('state'), browser };
  }
  if (page.url.pathname === '/auth/pick-patient' && page.status === 200) {
    return { kind: 'picker', requestId: page.url.searchParams.get('request') ?? '', html: page.text, verifier, state, browser };
  }
  return { kind: 'page', page, browser };
}

/**
 * Drives an authorisation like a browser: the authorize URL, the upstream provider's login page,
 * the chosen person posted, the callback, and on to the app's redirect URI (or the patient picker).
 * No click is simulated beyond the upstream login.
 */
export async function authorize(rig: SmartRig, req: AuthorizeRequest, user?: DemoUser): Promise<AuthorizeOutcome> {
  await authoriseForRigPatients(rig, user);
  const client = req.client ?? rig.clients.publicApp;
  const { url, verifier, state } = authorizeUrl(rig, req);
  const browser = new Browser();
  const stop = (u: URL): boolean => isAt(u, client.redirectUri);
  const first = await browser.navigate(url, stop);
  const form = first.status === 200 ? loginForm(first) : undefined;
  if (!form) {
    return outcomeOf(first, client.redirectUri, browser, verifier, state);
  }
  if (!user) {
    throw new Error('the flow reached the upstream login page but no user was given');
  }
  const after = await browser.navigate(form.action, stop, { form: { request: form.requestId, user: user.id, action: 'login' } });
  return outcomeOf(after, client.redirectUri, browser, verifier, state);
}

/** The patient ids offered by a picker page. */
export function pickerChoices(html: string): string[] {
  return [...html.matchAll(/name="patient" value="([^"]+)"/g)].map((m) => m[1]);
}

/** Searches on the picker page (GET with `q`); returns the page. */
export async function pickerSearch(rig: SmartRig, outcome: Extract<AuthorizeOutcome, { kind: 'picker' }>, q: string): Promise<Page> {
  const url = new URL(`${rig.baseUrl}/auth/pick-patient`);
  url.searchParams.set('request', outcome.requestId);
  url.searchParams.set('q', q);
  return outcome.browser.request(url);
}

/** Posts the picker's choice and follows on to the app's redirect URI. */
export async function pickerChoose(rig: SmartRig, outcome: Extract<AuthorizeOutcome, { kind: 'picker' }>, patientId: string, client: RigClient = rig.clients.publicApp): Promise<AuthorizeOutcome> {
  const page = await outcome.browser.navigate(`${rig.baseUrl}/auth/pick-patient`, (u) => isAt(u, client.redirectUri), {
    form: { request: outcome.requestId, patient: patientId },
  });
  return outcomeOf(page, client.redirectUri, outcome.browser, outcome.verifier, outcome.state);
}

/** Redeems a code at the token endpoint as the client would (Basic auth for confidential clients). */
export async function redeemCode(
  rig: SmartRig,
  code: string,
  verifier: string,
  client: RigClient = rig.clients.publicApp
): Promise<Awaited<ReturnType<typeof postForm>>> {
  const form: Record<string, string> = { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: verifier };
  const headers: Record<string, string> = {};
  if (client.secret) {
    headers.authorization = `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString('base64')}`;
  } else {
    form.client_id = client.clientId;
  }
  return postForm(rig.tokenUrl, form, headers);
}

/** A refresh at the token endpoint. */
export async function refresh(rig: SmartRig, refreshToken: string, client: RigClient = rig.clients.publicApp, scope?: string): Promise<Awaited<ReturnType<typeof postForm>>> {
  const form: Record<string, string> = { grant_type: 'refresh_token', refresh_token: refreshToken, ...(scope ? { scope } : {}) };
  const headers: Record<string, string> = {};
  if (client.secret) {
    headers.authorization = `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString('base64')}`;
  } else {
    form.client_id = client.clientId;
  }
  return postForm(rig.tokenUrl, form, headers);
}

/** The token response of a successful flow (`pick`: the patient to choose if the picker shows). */
export type TokenResponse = Record<string, unknown> & { access_token: string; scope: string };

export async function loginForToken(rig: SmartRig, req: AuthorizeRequest, user: DemoUser, pick?: string): Promise<TokenResponse> {
  const client = req.client ?? rig.clients.publicApp;
  let outcome = await authorize(rig, req, user);
  if (outcome.kind === 'picker') {
    if (!pick) {
      throw new Error('the patient picker was shown but no patient to pick was given');
    }
    outcome = await pickerChoose(rig, outcome, pick, client);
  }
  if (outcome.kind !== 'code') {
    throw new Error(`expected a code, got ${JSON.stringify(outcome.kind === 'page' ? { status: outcome.page.status, url: outcome.page.url.href } : outcome)}`);
  }
  const res = await redeemCode(rig, outcome.code, outcome.verifier, client);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body as TokenResponse;
}

/**
 * The server's current signing key, read from its database (`auth_keys`): test setup to mint
 * tokens that are correctly signed but wrong in one claim (expired, foreign audience...).
 */
export async function serverSigningKey(rig: SmartRig): Promise<{ kid: string; alg: string; key: CryptoKey | Uint8Array; publicJwk: JWK }> {
  const jwks = (await (await fetch(`${rig.baseUrl}/auth/jwks`)).json()) as { keys: JWK[] };
  const { rows } = await rig.db.query<{ kid: string; alg: string; private_jwk: JWK; public_jwk: JWK }>(
    `SELECT kid, alg, private_jwk, public_jwk FROM auth_keys WHERE purpose = 'server' ORDER BY created_at DESC LIMIT 1`
  );
  const row = rows[0];
  expect(row, 'a server key in auth_keys').to.not.equal(undefined);
  expect(jwks.keys.map((k) => k.kid)).to.include(row.kid);
  return { kid: row.kid, alg: row.alg, key: await importJWK(row.private_jwk, row.alg), publicJwk: row.public_jwk };
}

/**
 * An EHR launch of the fhirclient app: the browser opens the app's launch URL with `iss` and
 * `launch`, fhirclient reads the SMART configuration and redirects to authorize, the person logs
 * in upstream, and fhirclient's `ready()` redeems the code at the app's redirect URI. Returns the
 * fhirclient Client and the nonce the app sent.
 */
export async function fhirclientEhrLaunch(rig: SmartRig, launch: string, user: DemoUser): Promise<{ client: SmartClient; nonce: string; browser: Browser }> {
  await authoriseForRigPatients(rig, user);
  const app = rig.fhirclientApp;
  const browser = new Browser();
  const start = `${app.baseUrl}/launch?${new URLSearchParams({ iss: rig.fhirBase, launch }).toString()}`;
  const login = await browser.navigate(start);
  const form = loginForm(login);
  expect(form, `upstream login page expected, got ${login.status} at ${login.url.href}: ${login.text.slice(0, 300)}`).to.not.equal(undefined);
  const done = await browser.navigate((form as { action: string }).action, () => false, { form: { request: (form as { requestId: string }).requestId, user: user.id, action: 'login' } });
  const state = done.url.searchParams.get('state') ?? '';
  expect(done.url.href.startsWith(app.redirectUri), done.url.href).to.equal(true);
  expect(done.status, `${done.text} ${app.errors.get(state) ?? ''}`).to.equal(200);
  const client = app.clients.get(state);
  expect(client, 'fhirclient completed the launch').to.not.equal(undefined);
  return { client: client as SmartClient, nonce: app.nonces.get(state) ?? '', browser };
}

/**
 * The token of an EHR launch on a patient (a fresh test professional logs in upstream), for tests
 * that need a user token with given scopes: `launch openid fhirUser` are added to `scope`.
 */
export async function ehrLaunchToken(rig: SmartRig, patientId: string, scope: string, client: RigClient = rig.clients.publicApp): Promise<TokenResponse> {
  const launch = await createLaunch(rig, patientId, client.clientId);
  return loginForToken(rig, { client, scope: `launch openid fhirUser ${scope}`, launch }, rig.idp.addUser(pscProfessional()));
}
