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
import { createAuth, DEMO_IDP_CLIENT_ID, type AuthSetup } from './auth/setup.js';
import { DemoIdentityProvider } from './auth/demo-idp/provider.js';
import { demoIdpClientSecret } from './auth/demo-idp/secret.js';
import { loadDemoUsers } from './auth/demo-idp/users.js';
import { authenticate } from './http/middleware/authenticate.js';
import { AuditWriter } from './audit/audit-writer.js';
import { authRoutes } from './http/routes/auth.js';
import { demoIdpRoutes } from './http/routes/demo-idp.js';
import { demoAppRoutes } from './http/routes/demo-app.js';
import { matrixRoutes } from './http/routes/matrix.js';
import { operationDefinitionRoutes } from './http/routes/operation-definitions.js';

export interface AppDeps {
  readonly config: Config;
  readonly db: Database;
  readonly logger: Logger;
}

/** The built-in demo OpenID Connect provider (when no OIDC_ISSUER is set). */
function demoIdentityProvider(auth: AuthSetup, db: Database): DemoIdentityProvider {
  return new DemoIdentityProvider({
    issuer: auth.demoIdpIssuer as string,
    clients: async () => [{ client_id: DEMO_IDP_CLIENT_ID, client_secret: await demoIdpClientSecret(db), redirect_uris: [auth.services.urls.callback] }],
    users: () => loadDemoUsers(auth.services.repo),
    keys: auth.services.keys,
    db,
  });
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
  const auth = createAuth(config, db);
  if (auth.demoIdpIssuer) {
    app.use('/demo-idp', demoIdpRoutes(demoIdentityProvider(auth, db)));
  }
  app.use(
    authRoutes({
      services: auth.services,
      upstream: auth.upstream,
      resolveIdentity: auth.resolveIdentity,
      secureCookies: config.baseUrl.startsWith('https:'),
    })
  );
  app.use(demoAppRoutes({ baseUrl: config.baseUrl }));
  app.use('/fhir', authenticate(auth.services.tokens, auth.services.urls.fhirBase));
  // The habilitation matrix, served read-only as a ConceptMap (not a stored type).
  app.use('/fhir', matrixRoutes(config.policy.matrixFile));
  app.use('/fhir', operationDefinitionRoutes());
  app.use(
    '/fhir',
    fhirRoutes({
      repo: new ResourceRepo(db),
      settings: {
        fhirBase: `${config.baseUrl}/fhir`,
        searchDefaultCount: config.searchDefaultCount,
        searchMaxCount: config.searchMaxCount,
        pilotageMinCellCount: config.pilotageMinCellCount,
      },
      maxBodyBytes: config.maxBodyBytes,
      binaryMaxBytes: config.binaryMaxBytes,
      audit: new AuditWriter({ name: 'dmp-fhir-server', clientSystem: `${config.baseUrl}/auth/clients` }),
      policy: { matrix: config.policy.matrix, invisiblePatientDelayDays: config.policy.invisiblePatientDelayDays, retentionYears: config.policy.retentionYears },
    })
  );
  app.use(notFound);
  app.use(errorHandler);
  return app;
}
