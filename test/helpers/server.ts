import http from 'node:http';
import { Writable } from 'node:stream';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createLogger } from '../../src/logging/logger.js';
import { migrate } from '../../src/repo/migrations/index.js';
import { openDatabase, type Database } from '../../src/repo/pool.js';
import { clientAssertion, postForm, writeTestClients, type TestClients } from './auth.js';

/** The app under test, listening on a loopback port, on PostgreSQL when DATABASE_URL is set, else in-memory PGlite. */
export interface TestServer {
  readonly baseUrl: string;
  readonly fhirBase: string;
  readonly config: Config;
  readonly db: Database;
  readonly server: http.Server;
  readonly clients: TestClients;
}

const logLines: string[] = [];
let started: Promise<TestServer> | undefined;

/** Every log line the test server wrote (JSON strings), for tests about logging. */
export function capturedLogs(): readonly string[] {
  return logLines;
}

/** Starts the shared test server once per mocha process. */
export function getTestServer(): Promise<TestServer> {
  started ??= start();
  return started;
}

async function start(): Promise<TestServer> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const baseUrl = `http://127.0.0.1:${port}`;
  const clients = await writeTestClients();
  const config = loadConfig({
    ...process.env,
    SMART_CLIENTS_FILE: clients.file,
    PORT: String(port),
    BASE_URL: baseUrl,
    DATA_DIR: 'memory://',
    SEED_DEMO_DATA: 'false',
    MAX_BODY_BYTES: String(2 * 1024 * 1024),
    SEARCH_MAX_COUNT: '100',
    LOG_LEVEL: 'info',
  });
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: 'memory://', poolSize: 5 });
  await migrate(db);
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(...String(chunk).split('\n').filter((l) => l.trim() !== ''));
      done();
    },
  });
  const app = buildApp({ config, db, logger: createLogger('info', sink) });
  server.on('request', app);
  return { baseUrl, fhirBase: `${baseUrl}/fhir`, config, db, server, clients };
}

let cachedToken: { token: string; at: number; scope: string } | undefined;

/**
 * A real access token of the test backend client (SMART Backend Services: client_credentials with
 * a signed client assertion), `system/*.cruds` unless asked otherwise. Cached while fresh.
 */
export async function systemToken(scope = 'system/*.cruds'): Promise<string> {
  if (cachedToken && cachedToken.scope === scope && Date.now() - cachedToken.at < 200_000) {
    return cachedToken.token;
  }
  const { baseUrl, clients } = await getTestServer();
  const tokenUrl = `${baseUrl}/auth/token`;
  const assertion = await clientAssertion(tokenUrl, clients.backend.clientId, clients.backend.key);
  const res = await postForm(tokenUrl, {
    grant_type: 'client_credentials',
    scope,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
  });
  if (res.status !== 200 || typeof res.body.access_token !== 'string') {
    throw new Error(`test backend client could not get a token: ${res.status} ${JSON.stringify(res.body)}`);
  }
  cachedToken = { token: res.body.access_token, at: Date.now(), scope };
  return res.body.access_token;
}

/** Stops the shared server (root after-all hook). */
export async function stopTestServer(): Promise<void> {
  if (!started) {
    return;
  }
  const { server, db } = await started;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await db.close();
  started = undefined;
}
