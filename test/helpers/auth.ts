import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

/** A key pair a test client signs its assertions with. */
export interface ClientKey {
  readonly kid: string;
  readonly alg: 'ES384' | 'RS384';
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export async function makeClientKey(alg: 'ES384' | 'RS384' = 'ES384'): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, alg, privateKey, publicJwk: { ...jwk, kid, alg } };
}

/** The registered clients of the test server (written to a temporary SMART_CLIENTS_FILE). */
export interface TestClients {
  readonly file: string;
  /** SMART Backend Services client (private_key_jwt, client_credentials, system/*.cruds). */
  readonly backend: { readonly clientId: string; readonly key: ClientKey };
  /** The insurer's Backend Services client (DMP role insurer, the reimbursement feed's scopes). */
  readonly insurer: { readonly clientId: string; readonly key: ClientKey; readonly scope: string };
  /** Public SMART app (PKCE, no secret). */
  readonly publicApp: { readonly clientId: string; readonly redirectUri: string };
  /** Confidential app with client_secret_basic. */
  readonly confidentialApp: { readonly clientId: string; readonly secret: string; readonly redirectUri: string };
}

export const TEST_REDIRECT_URI = 'http://127.0.0.1:9/app/callback';

/** Writes the test clients file; the redirect URIs need not answer (tests read the Location). */
export async function writeTestClients(): Promise<TestClients> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-test-clients-'));
  const file = path.join(dir, 'smart-clients.json');
  const key = await makeClientKey();
  const insurerKey = await makeClientKey();
  const insurerScope = 'system/Patient.rs system/DocumentReference.crs system/Binary.c';
  const secret = randomUUID();
  const appScope = 'openid fhirUser profile launch launch/patient offline_access online_access patient/*.cruds user/*.cruds';
  const clients = [
    { client_id: 'test-backend', client_name: 'Test backend', redirect_uris: [], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.publicJwk] }, scope: 'system/*.cruds', grant_types: ['client_credentials'], dmp_role: 'operator' },
    { client_id: 'test-insurer', client_name: 'Test insurer', redirect_uris: [], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [insurerKey.publicJwk] }, scope: insurerScope, grant_types: ['client_credentials'], dmp_role: 'insurer' },
    { client_id: 'test-public-app', client_name: 'Test public app', redirect_uris: [TEST_REDIRECT_URI], token_endpoint_auth_method: 'none', scope: appScope, grant_types: ['authorization_code', 'refresh_token'] },
    { client_id: 'test-confidential-app', client_name: 'Test confidential app', redirect_uris: [TEST_REDIRECT_URI], token_endpoint_auth_method: 'client_secret_basic', client_secret: secret, scope: appScope, grant_types: ['authorization_code', 'refresh_token'] },
  ];
  fs.writeFileSync(file, JSON.stringify(clients, null, 2));
  return {
    file,
    backend: { clientId: 'test-backend', key },
    insurer: { clientId: 'test-insurer', key: insurerKey, scope: insurerScope },
    publicApp: { clientId: 'test-public-app', redirectUri: TEST_REDIRECT_URI },
    confidentialApp: { clientId: 'test-confidential-app', secret, redirectUri: TEST_REDIRECT_URI },
  };
}

/** A SMART Backend Services client assertion (RFC 7523), with overridable claims and header for attack tests. */
export async function clientAssertion(
  tokenUrl: string,
  clientId: string,
  key: ClientKey,
  overrides: { claims?: Record<string, unknown>; header?: Record<string, unknown>; expiresInSeconds?: number } = {}
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: clientId, sub: clientId, aud: tokenUrl, jti: randomUUID(), exp: now + (overrides.expiresInSeconds ?? 240), iat: now, ...overrides.claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...overrides.header })
    .sign(key.privateKey);
}

/** POSTs a form to a URL; returns status and parsed JSON. */
export async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form).toString() });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body, headers: res.headers };
}
