import http from 'node:http';
import { Writable } from 'node:stream';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logging/logger.js';
import { clientAssertion, postForm } from './auth.js';
import { FHIR_JSON } from './fhir.js';
import { getTestServer } from './server.js';

/** A second instance of the app (`buildApp`) with settings of its own, on the shared test server's database and clients. */
export interface AppWithSettings {
  readonly fhirBase: string;
  /** fetch() on its FHIR base with a `system/*.cruds` token of the test backend (Accept FHIR JSON unless set). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/** Starts the app on a loopback port with `env` on top of the shared test server's settings. */
export async function startAppWithSettings(env: Record<string, string>): Promise<AppWithSettings> {
  const shared = await getTestServer();
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const config = loadConfig({
    ...process.env,
    SMART_CLIENTS_FILE: shared.clients.file,
    BASE_URL: baseUrl,
    DATA_DIR: 'memory://',
    SEED_DEMO_DATA: 'false',
    LOG_LEVEL: 'warn',
    ...env,
  });
  const quiet = new Writable({ write: (_chunk, _enc, done) => done() });
  server.on('request', buildApp({ config, db: shared.db, logger: createLogger('warn', quiet) }));

  // Its tokens carry its own audience: the shared server's are not valid here.
  const tokenUrl = `${baseUrl}/auth/token`;
  let token: string | undefined;
  async function systemToken(): Promise<string> {
    if (!token) {
      const { backend } = shared.clients;
      const res = await postForm(tokenUrl, {
        grant_type: 'client_credentials',
        scope: 'system/*.cruds',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await clientAssertion(tokenUrl, backend.clientId, backend.key),
      });
      if (res.status !== 200 || typeof res.body.access_token !== 'string') {
        throw new Error(`no token from the second app: ${res.status} ${JSON.stringify(res.body)}`);
      }
      token = res.body.access_token;
    }
    return token;
  }

  return {
    fhirBase: `${baseUrl}/fhir`,
    async fetch(path, init = {}) {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${await systemToken()}`);
      if (!headers.has('accept')) {
        headers.set('accept', FHIR_JSON);
      }
      if (typeof init.body === 'string' && !headers.has('content-type')) {
        headers.set('content-type', FHIR_JSON);
      }
      return fetch(`${baseUrl}/fhir/${path.replace(/^\//, '')}`, { ...init, headers });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
