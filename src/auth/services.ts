import type { ResourceRepo } from '../repo/resource-repo.js';
import type { ClientAuthenticator } from './client-auth.js';
import type { ClientRegistry } from './clients.js';
import type { KeyStore } from './keys.js';
import type { AuthStore } from './store.js';
import type { TokenService } from './token-service.js';

/** Public URLs of the authorisation server. */
export interface AuthUrls {
  /** Issuer of our tokens and id_tokens: the server's base URL. */
  readonly issuer: string;
  readonly fhirBase: string;
  readonly authorize: string;
  readonly token: string;
  readonly callback: string;
}

/** Everything the authorisation endpoints work with. */
export interface AuthServices {
  readonly urls: AuthUrls;
  readonly clients: ClientRegistry;
  readonly clientAuth: ClientAuthenticator;
  readonly store: AuthStore;
  readonly tokens: TokenService;
  readonly keys: KeyStore;
  readonly repo: ResourceRepo;
  readonly refreshTokenTtlSeconds: number;
}
