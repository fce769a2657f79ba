import express, { type Express } from 'express';
import type { Config } from './config/index.js';
import { loadProfiles } from './fhir/validate.js';
import { errorHandler, notFound } from './http/middleware/error-handler.js';
import { requestContext } from './http/middleware/request-context.js';
import { securityHeaders } from './http/middleware/security-headers.js';
import { fhirRoutes } from './http/routes/fhir.js';
import { healthRoutes } from './http/routes/health.js';
import type { Logger } from './logging/logger.js';
import type { Database } from './repo/pool.js';
import { ResourceRepo } from './repo/resource-repo.js';

export interface AppDeps {
  readonly config: Config;
  readonly db: Database;
  readonly logger: Logger;
}

/** Assembles the Express app; never listens (server.ts and the tests do). */
export function buildApp({ config, db, logger }: AppDeps): Express {
  loadProfiles();
  const app = express();
  app.disable('x-powered-by');
  // ETags are resource versions (W/"n"), set by the FHIR layer; never Express's body hashes.
  app.set('etag', false);
  app.use(requestContext(logger));
  app.use(securityHeaders);
  app.use(healthRoutes(db));
  app.use(
    '/fhir',
    fhirRoutes({
      repo: new ResourceRepo(db),
      settings: {
        fhirBase: `${config.baseUrl}/fhir`,
        searchDefaultCount: config.searchDefaultCount,
        searchMaxCount: config.searchMaxCount,
      },
      maxBodyBytes: config.maxBodyBytes,
    })
  );
  app.use(notFound);
  app.use(errorHandler);
  return app;
}
