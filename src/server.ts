import http from 'node:http';
import { buildApp } from './app.js';
import { ensureDemoClients } from './auth/demo-clients.js';
import { loadConfig, type Config } from './config/index.js';
import { createLogger, type Logger } from './logging/logger.js';
import { migrate } from './repo/migrations/index.js';
import { openDatabase, type Database } from './repo/pool.js';
import { reindexChangedTypes } from './repo/reindex.js';
import { loadBaseDefinitions } from './fhir/definitions.js';
import { loadDemoDataOnce } from '../scripts/seed/load-demo.js';

export interface RunningServer {
  readonly server: http.Server;
  readonly db: Database;
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish (up to the timeout), then closes the database. */
  stop(): Promise<void>;
}

/** Opens the database, migrates, seeds the demo data if asked, and listens. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: config.dbPoolSize });
  const applied = await migrate(db);
  loadBaseDefinitions();
  const reindexed = await reindexChangedTypes(db);
  logger.info({ database: db.kind, migrationsApplied: applied, searchIndexRebuilt: reindexed }, 'database ready');
  if (config.seedDemoData) {
    const settings = { fhirBase: `${config.baseUrl}/fhir`, searchDefaultCount: config.searchDefaultCount, searchMaxCount: config.searchMaxCount };
    await loadDemoDataOnce(db, settings, logger);
    const demoClients = await ensureDemoClients({ clientsFile: config.auth.clientsFile, baseUrl: config.baseUrl, dataDir: config.dataDir });
    if (demoClients.created) {
      logger.info({ clientsFile: config.auth.clientsFile }, 'demo SMART clients registered (demo-app, demo-backend, demo-insurer)');
    }
  }
  const app = buildApp({ config, db, logger });
  const server = http.createServer(app);
  const closeConnections = closeConnectionsOnShutdown(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  logger.info({ url, fhirBase: `${config.baseUrl}/fhir` }, 'listening');
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= shutdown(server, db, config.shutdownTimeoutMs, logger, closeConnections));
  return { server, db, url, stop };
}

/**
 * Once called, every answer not yet sent (in flight, or arriving on an open keep-alive connection)
 * says `Connection: close`, so each connection ends with its last answer instead of lingering until
 * the keep-alive timeout and being reused for new requests during the shutdown.
 */
function closeConnectionsOnShutdown(server: http.Server): () => void {
  const unanswered = new Set<http.ServerResponse>();
  let closing = false;
  const markClose = (res: http.ServerResponse): void => {
    if (!res.headersSent) {
      res.setHeader('Connection', 'close');
    }
  };
  server.prependListener('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    if (closing) {
      markClose(res);
      return;
    }
    unanswered.add(res);
    res.once('close', () => unanswered.delete(res));
  });
  return () => {
    closing = true;
    unanswered.forEach(markClose);
  };
}

async function shutdown(server: http.Server, db: Database, timeoutMs: number, logger: Logger, closeConnections: () => void): Promise<void> {
  logger.info('shutting down: no new connections, finishing in-flight requests');
  closeConnections();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => {
    logger.warn('shutdown timeout: closing remaining connections');
    server.closeAllConnections();
  }, timeoutMs);
  await closed;
  clearTimeout(timer);
  await db.close();
  logger.info('stopped');
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`Invalid configuration: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel);
  const running = await startServer(config, logger);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'signal received');
      running.stop().then(
        () => process.exit(0),
        (err) => {
          logger.error({ err: (err as Error).message }, 'shutdown failed');
          process.exit(1);
        }
      );
    });
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((err) => {
    process.stderr.write(`Startup failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
