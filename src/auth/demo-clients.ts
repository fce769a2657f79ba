import fs from 'node:fs';
import path from 'node:path';
import type { JWK } from 'jose';
import { demoBackendKeyFile, generateSigningKey, toJsonFile, writeFileAtomic, writeFileExclusive } from './client-admin.js';
import type { SmartClient } from './clients.js';

/** The demo public SMART app (browser or native app: no secret, PKCE). */
export const DEMO_APP_ID = 'demo-app';
/** The demo SMART Backend Services client (client_credentials, private_key_jwt with ES384, DMP role operator). */
export const DEMO_BACKEND_ID = 'demo-backend';
/** The demo insurer (Assurance Maladie's system): Backend Services client with the DMP role insurer (`npm run feed:remb`). */
export const DEMO_INSURER_ID = 'demo-insurer';

export const DEMO_APP_SCOPE = 'openid fhirUser profile launch launch/patient offline_access online_access patient/*.cruds user/*.cruds';
export const DEMO_BACKEND_SCOPE = 'system/*.cruds';
/** What the reimbursement feed needs: look patients up, find its REMB documents, create them and their content. */
export const DEMO_INSURER_SCOPE = 'system/Patient.rs system/DocumentReference.crs system/Binary.c';

export interface DemoClientsOptions {
  /** The clients file (`config.auth.clientsFile`). */
  readonly clientsFile: string;
  /** The server's public base URL (`config.baseUrl`): the demo app's redirect URI hangs under it. */
  readonly baseUrl: string;
  /** Where the demo backend's and demo insurer's private keys go (`$DATA_DIR/demo-backend-key.json`, `$DATA_DIR/demo-insurer-key.json`). */
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

/** Where the demo insurer's private key is written (what `npm run feed:remb` reads by default). */
export function demoInsurerKeyFile(dataDir: string): string {
  return path.join(dataDir, `${DEMO_INSURER_ID}-key.json`);
}

/** The demo insurer's registration, with its public key. */
function demoInsurerClient(publicJwk: JWK): SmartClient {
  return {
    client_id: DEMO_INSURER_ID,
    client_name: 'Assurance Maladie (démonstration)',
    redirect_uris: [],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [publicJwk] },
    scope: DEMO_INSURER_SCOPE,
    grant_types: ['client_credentials'],
    dmp_role: 'insurer',
  };
}

/**
 * Registers the demo clients when there is no clients file yet: writes the file (0644) with
 * `demo-app`, `demo-backend` and `demo-insurer`, and the two backends' freshly generated ES384
 * private keys to `$dataDir/demo-backend-key.json` and `$dataDir/demo-insurer-key.json` (0600).
 * An existing clients file is never touched, whatever it holds.
 */
export async function ensureDemoClients(opts: DemoClientsOptions): Promise<{ created: boolean }> {
  if (fs.existsSync(opts.clientsFile)) {
    return { created: false };
  }
  const { publicJwk, privateJwk } = await generateSigningKey();
  const insurerKey = await generateSigningKey();
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
  if (!writeFileExclusive(opts.clientsFile, toJsonFile([demoAppClient(opts.baseUrl), backend, demoInsurerClient(insurerKey.publicJwk)]), 0o644)) {
    // Another process registered clients meanwhile: theirs stand, and so does their key.
    return { created: false };
  }
  // Only the process whose clients file won writes the keys that match it.
  writeFileAtomic(demoBackendKeyFile(opts.dataDir), toJsonFile(privateJwk), 0o600);
  writeFileAtomic(demoInsurerKeyFile(opts.dataDir), toJsonFile(insurerKey.privateJwk), 0o600);
  return { created: true };
}
