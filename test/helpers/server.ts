import http from 'node:http';
import { Writable } from 'node:stream';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createLogger } from '../../src/logging/logger.js';
import { migrate } from '../../src/repo/migrations/index.js';
import { openDatabase, type Database } from '../../src/repo/pool.js';

/** The app under test, listening on a loopback port, on PostgreSQL when DATABASE_URL is set, else in-memory PGlite. */
export interface TestServer {
  readonly baseUrl: string;
  readonly fhirBase: string;
  readonly config: Config;
  readonly db: Database;
  readonly server: http.Server;
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
  const config = loadConfig({
    ...process.env,
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
  return { baseUrl, fhirBase: `${baseUrl}/fhir`, config, db, server };
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
