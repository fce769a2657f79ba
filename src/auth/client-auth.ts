import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Database } from '../repo/pool.js';
import { parseBasicAuth, secretMatches, type ClientRegistry, type SmartClient } from './clients.js';
import { OAuthError } from './oauth-errors.js';

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** SMART asymmetric client authentication: RS384 and ES384. */
export const ASSERTION_ALGORITHMS = ['RS384', 'ES384'] as const;
const MAX_ASSERTION_LIFETIME_S = 300;
const CLOCK_SKEW_S = 5;

/**
 * Authenticates the client of a token, introspection or revocation request, by whichever method
 * it is registered with: `client_secret_basic`, `private_key_jwt` (RFC 7523 + SMART), or none
 * (public client naming itself). Any failure is `invalid_client`.
 */
export class ClientAuthenticator {
  private readonly remoteSets = new Map<string, JWTVerifyGetKey>();

  constructor(
    private readonly clients: ClientRegistry,
    private readonly db: Database,
    /** The token endpoint URL: the audience client assertions must name. */
    private readonly tokenUrl: string
  ) {}

  async authenticate(form: Record<string, string | undefined>, authorization: string | undefined): Promise<SmartClient> {
    const basic = parseBasicAuth(authorization);
    if (basic) {
      const client = this.clients.find(basic.clientId);
      if (!client || client.token_endpoint_auth_method !== 'client_secret_basic' || !secretMatches(client, basic.secret)) {
        throw new OAuthError('invalid_client', 'Client authentication failed');
      }
      return client;
    }
    if (form.client_assertion !== undefined || form.client_assertion_type !== undefined) {
      return this.verifyAssertion(form);
    }
    const client = this.clients.find(form.client_id);
    if (!client) {
      throw new OAuthError('invalid_client', 'Unknown client, or no client authentication given');
    }
    if (client.token_endpoint_auth_method !== 'none') {
      throw new OAuthError('invalid_client', `This client must authenticate with ${client.token_endpoint_auth_method}`);
    }
    return client;
  }

  private async verifyAssertion(form: Record<string, string | undefined>): Promise<SmartClient> {
    if (form.client_assertion_type !== ASSERTION_TYPE || !form.client_assertion) {
      throw new OAuthError('invalid_client', `client_assertion_type must be ${ASSERTION_TYPE}, with a client_assertion`);
    }
    const assertion = form.client_assertion;
    let header: ReturnType<typeof decodeProtectedHeader>;
    let claims: ReturnType<typeof decodeJwt>;
    try {
      header = decodeProtectedHeader(assertion);
      claims = decodeJwt(assertion);
    } catch {
      throw new OAuthError('invalid_client', 'client_assertion is not a JWT');
    }
    if (!header.alg || !(ASSERTION_ALGORITHMS as readonly string[]).includes(header.alg)) {
      throw new OAuthError('invalid_client', `client_assertion alg must be one of ${ASSERTION_ALGORITHMS.join(', ')}`);
    }
    if (!header.kid) {
      throw new OAuthError('invalid_client', 'client_assertion header needs a kid');
    }
    const client = this.clients.find(typeof claims.iss === 'string' ? claims.iss : undefined);
    if (!client || client.token_endpoint_auth_method !== 'private_key_jwt') {
      throw new OAuthError('invalid_client', 'client_assertion iss is not a client registered for private_key_jwt');
    }
    if (form.client_id && form.client_id !== client.client_id) {
      throw new OAuthError('invalid_client', 'client_id does not match the client_assertion');
    }
    if (header.jku && header.jku !== client.jwks_uri) {
      throw new OAuthError('invalid_client', 'client_assertion jku is not the registered jwks_uri');
    }
    await this.checkSignatureAndClaims(assertion, client);
    await this.rememberJti(client.client_id, claims.jti, claims.exp as number);
    return client;
  }

  private async checkSignatureAndClaims(assertion: string, client: SmartClient): Promise<void> {
    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, this.keySet(client), {
        algorithms: [...ASSERTION_ALGORITHMS],
        issuer: client.client_id,
        subject: client.client_id,
        audience: this.tokenUrl,
        clockTolerance: CLOCK_SKEW_S,
      }));
    } catch (err) {
      throw new OAuthError('invalid_client', `client_assertion rejected: ${(err as Error).message}`);
    }
    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.exp !== 'number' || payload.exp > now + MAX_ASSERTION_LIFETIME_S + CLOCK_SKEW_S) {
      throw new OAuthError('invalid_client', `client_assertion exp must be at most ${MAX_ASSERTION_LIFETIME_S} seconds ahead`);
    }
    if (typeof payload.jti !== 'string' || payload.jti.length === 0) {
      throw new OAuthError('invalid_client', 'client_assertion needs a jti');
    }
  }

  /** A jti is accepted once per client while its assertion could still be valid. */
  private async rememberJti(clientId: string, jti: unknown, exp: number): Promise<void> {
    await this.db.query('DELETE FROM auth_assertion_jti WHERE expires_at < now()');
    const { rows } = await this.db.query(
      'INSERT INTO auth_assertion_jti (client_id, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING jti',
      [clientId, String(jti), new Date((exp + CLOCK_SKEW_S) * 1000).toISOString()]
    );
    if (rows.length === 0) {
      throw new OAuthError('invalid_client', 'client_assertion jti was already used');
    }
  }

  private keySet(client: SmartClient): JWTVerifyGetKey {
    if (client.jwks) {
      return createLocalJWKSet(client.jwks);
    }
    const uri = client.jwks_uri as string;
    let set = this.remoteSets.get(uri);
    if (!set) {
      set = createRemoteJWKSet(new URL(uri));
      this.remoteSets.set(uri, set);
    }
    return set;
  }
}
