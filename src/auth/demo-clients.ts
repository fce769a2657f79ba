import fs from 'node:fs';
import path from 'node:path';
import { demoBackendKeyFile, generateSigningKey, toJsonFile, writeFileAtomic, writeFileExclusive } from './client-admin.js';
import type { SmartClient } from './clients.js';

/** The demo public SMART app (browser or native app: no secret, PKCE). */
export const DEMO_APP_ID = 'demo-app';
/** The demo SMART Backend Services client (client_credentials, private_key_jwt with ES384, DMP role operator). */
export const DEMO_BACKEND_ID = 'demo-backend';

export const DEMO_APP_SCOPE = 'openid fhirUser profile launch launch/patient offline_access online_access patient/*.cruds user/*.cruds';
export const DEMO_BACKEND_SCOPE = 'system/*.cruds';

export interface DemoClientsOptions {
  /** The clients file (`config.auth.clientsFile`). */
  readonly clientsFile: string;
  /** The server's public base URL (`config.baseUrl`): the demo app's redirect URI hangs under it. */
  readonly baseUrl: string;
  /** Where the demo backend's private key goes (`$DATA_DIR/demo-backend-key.json`). */
  readonly dataDir: string;
}

/** The demo public app's registration. */
export function demoAppClient(baseUrl: string): SmartClient {
  return {
    client_id: DEMO_APP_ID,
    client_name: 'Application SMART de démonstration',
    redirect_uris: [`${baseUrl}/demo-app/callback`],
    token_endpoint_auth_method: 'none',
    scope: DEMO_APP_SCOPE,
    grant_types: ['authorization_code', 'refresh_token'],
  };
}

/**
 * Registers the demo clients when there is no clients file yet: writes the file (0644) with
 * `demo-app` and `demo-backend`, and the demo backend's freshly generated ES384 private key to
 * `$dataDir/demo-backend-key.json` (0600). An existing clients file is never touched, whatever it holds.
 */
export async function ensureDemoClients(opts: DemoClientsOptions): Promise<{ created: boolean }> {
  if (fs.existsSync(opts.clientsFile)) {
    return { created: false };
  }
  const { publicJwk, privateJwk } = await generateSigningKey();
  const backend: SmartClient = {
    client_id: DEMO_BACKEND_ID,
    client_name: 'Client SMART Backend Services de démonstration',
    redirect_uris: [],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [publicJwk] },
    scope: DEMO_BACKEND_SCOPE,
    grant_types: ['client_credentials'],
    // The demo's fictitious data is open to standard FHIR tooling through the host's operator role
    // (held by its scopes, audited); a deployment with real data registers no such client.
    dmp_role: 'operator',
  };
  fs.mkdirSync(path.dirname(opts.clientsFile), { recursive: true });
  fs.mkdirSync(opts.dataDir, { recursive: true });
  if (!writeFileExclusive(opts.clientsFile, toJsonFile([demoAppClient(opts.baseUrl), backend]), 0o644)) {
    // Another process registered clients meanwhile: theirs stand, and so does their key.
    return { created: false };
  }
  // Only the process whose clients file won writes the key that matches it.
  writeFileAtomic(demoBackendKeyFile(opts.dataDir), toJsonFile(privateJwk), 0o600);
  return { created: true };
}
