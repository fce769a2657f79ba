/** The two HTTP servers under load: a bare Express baseline and the real app on its database. */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import type { JWK } from 'jose';
import { buildApp } from '../../src/app.js';
import { appendClient, generateSigningKey, signClientAssertion } from '../../src/auth/client-admin.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logging/logger.js';
import { migrate } from '../../src/repo/migrations/index.js';
import { openDatabase, type Database } from '../../src/repo/pool.js';
import { ResourceRepo } from '../../src/repo/resource-repo.js';
import { baselinePayload } from './fixtures.js';

/** A server listening on a loopback port. */
export interface Listening {
  readonly url: string;
  close(): Promise<void>;
}

export interface AppUnderTest extends Listening {
  readonly db: Database;
  /** A repository on the same database, for seeding. */
  readonly repo: ResourceRepo;
  /** Human description of the database, e.g. "pglite (fresh, /tmp/dmp-bench-x)". */
  readonly databaseLabel: string;
  /** Gets a fresh system access token through the real token endpoint (client_credentials). */
  readonly accessToken: () => Promise<string>;
}

export const BASELINE_PATH = '/patient';
const POOL_SIZE = 10;

/** Listens on 127.0.0.1, port chosen by the OS; the request handler is attached later. */
async function listenOnLoopback(): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}` };
}

/** Stops accepting, lets the requests still running finish (the database must outlive them), drops idle sockets. */
function closeServer(server: http.Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const idle = setInterval(() => server.closeIdleConnections(), 50);
  return closed.finally(() => clearInterval(idle));
}

/** Bare Express 5 with one JSON endpoint returning a fixed Patient-sized object. */
export async function startBaseline(): Promise<Listening> {
  const { server, url } = await listenOnLoopback();
  const app = express();
  app.disable('x-powered-by');
  const payload = baselinePayload();
  app.get(BASELINE_PATH, (_req, res) => {
    res.json(payload);
  });
  server.on('request', app);
  return { url, close: () => closeServer(server) };
}

const BENCH_CLIENT_ID = 'bench-backend';

async function systemToken(baseUrl: string, privateJwk: JWK): Promise<string> {
  const tokenUrl = `${baseUrl}/auth/token`;
  const assertion = await signClientAssertion({ clientId: BENCH_CLIENT_ID, privateJwk, audience: tokenUrl });
  const res = await fetch(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'system/*.cruds',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }).toString(),
  });
  const body = (await res.json()) as { access_token?: string };
  if (!res.ok || !body.access_token) {
    throw new Error(`bench: no access token (${res.status} ${JSON.stringify(body)})`);
  }
  return body.access_token;
}

/** The real app (buildApp) on PostgreSQL when databaseUrl is given, else on a fresh PGlite in a temp dir. */
export async function startApp(databaseUrl: string | undefined): Promise<AppUnderTest> {
  const { server, url } = await listenOnLoopback();
  const dataDir = databaseUrl ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-bench-'));
  // A backend client registered for the bench, as any SMART Backend Services client would be.
  const authDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-bench-auth-'));
  const clientsFile = path.join(authDir, 'smart-clients.json');
  const { publicJwk, privateJwk } = await generateSigningKey();
  appendClient(clientsFile, {
    client_id: BENCH_CLIENT_ID,
    redirect_uris: [],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [publicJwk] },
    scope: 'system/*.cruds',
    grant_types: ['client_credentials'],
    // The host's technical client: the benchmark measures the FHIR stack, not one DMP role's rules.
    dmp_role: 'operator',
  });
  const config = loadConfig({
    PORT: new URL(url).port,
    BASE_URL: url,
    SMART_CLIENTS_FILE: clientsFile,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATA_DIR: dataDir }),
    SEED_DEMO_DATA: 'false',
    LOG_LEVEL: 'warn',
  });
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: POOL_SIZE });
  await migrate(db);
  server.on('request', buildApp({ config, db, logger: createLogger(config.logLevel) }));
  const close = async (): Promise<void> => {
    await closeServer(server);
    await db.close();
    fs.rmSync(authDir, { recursive: true, force: true });
    if (dataDir) {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  };
  const databaseLabel = databaseUrl ? 'postgres (DATABASE_URL)' : `pglite (fresh, ${dataDir})`;
  const accessToken = (): Promise<string> => systemToken(url, privateJwk);
  return { url, db, repo: new ResourceRepo(db), databaseLabel, close, accessToken };
}
