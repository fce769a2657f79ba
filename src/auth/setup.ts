import type { Config } from '../config/index.js';
import type { Database } from '../repo/pool.js';
import { ResourceRepo } from '../repo/resource-repo.js';
import type { IdentityResolver, UpstreamLogin } from './authorize.handler.js';
import { ClientAuthenticator } from './client-auth.js';
import { ClientRegistry } from './clients.js';
import { demoIdpClientSecret } from './demo-idp/secret.js';
import { resolveIdentity } from './identity.js';
import { KeyStore } from './keys.js';
import type { AuthServices, AuthUrls } from './services.js';
import { AuthStore } from './store.js';
import { TokenService } from './token-service.js';
import { UpstreamOidc } from './upstream.js';

/** The client id under which the server logs in at the built-in demo identity provider. */
export const DEMO_IDP_CLIENT_ID = 'dmp-fhir-server';

export interface AuthSetup {
  readonly services: AuthServices;
  readonly upstream: UpstreamLogin;
  readonly resolveIdentity: IdentityResolver;
  /** The demo identity provider's issuer when it runs (no OIDC_ISSUER), else undefined. */
  readonly demoIdpIssuer: string | undefined;
}

/** Builds the authorisation server from the settings: keys, clients, stores, tokens, upstream login. */
export function createAuth(config: Config, db: Database): AuthSetup {
  const urls: AuthUrls = {
    issuer: config.baseUrl,
    fhirBase: `${config.baseUrl}/fhir`,
    authorize: `${config.baseUrl}/auth/authorize`,
    token: `${config.baseUrl}/auth/token`,
    callback: `${config.baseUrl}/auth/callback`,
  };
  const keys = new KeyStore(db, config.auth.signingKey);
  const clients = new ClientRegistry(config.auth.clientsFile);
  const repo = new ResourceRepo(db);
  const demoIdpIssuer = config.auth.oidcIssuer ? undefined : `${config.baseUrl}/demo-idp`;
  const upstream = new UpstreamOidc({
    issuer: config.auth.oidcIssuer ?? (demoIdpIssuer as string),
    clientId: config.auth.oidcClientId ?? DEMO_IDP_CLIENT_ID,
    clientSecret: config.auth.oidcClientSecret ?? (() => demoIdpClientSecret(db)),
    redirectUri: urls.callback,
  });
  const services: AuthServices = {
    urls,
    clients,
    clientAuth: new ClientAuthenticator(clients, db, urls.token),
    store: new AuthStore(db),
    tokens: new TokenService(db, keys, { issuer: urls.issuer, audience: urls.fhirBase, accessTokenTtlSeconds: config.auth.accessTokenTtlSeconds }),
    keys,
    repo,
    refreshTokenTtlSeconds: config.auth.refreshTokenTtlSeconds,
  };
  return { services, upstream, resolveIdentity: (claims) => resolveIdentity(repo, claims), demoIdpIssuer };
}
