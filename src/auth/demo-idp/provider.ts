import { createHash, timingSafeEqual } from 'node:crypto';
import type { JWK } from 'jose';
import type { Database, Queryable } from '../../repo/pool.js';
import { pkceS256, randomSecret, secretHash } from '../hash.js';
import { SIGNING_ALGORITHMS, type KeyStore } from '../keys.js';
import type { DemoUser } from './users.js';

/** A relying party registered at the demo identity provider. */
export interface DemoIdpClient {
  readonly client_id: string;
  readonly client_secret: string;
  /** Exact redirect URIs (compared as strings). */
  readonly redirect_uris: readonly string[];
}

/** What the provider signs with: the KeyStore's `demo-idp` purpose (an interface, so tests can swap it). */
export type DemoIdpSigner = Pick<KeyStore, 'sign' | 'jwks'>;

export interface DemoIdpOptions {
  /** Issuer identifier = base URL of the endpoints (no trailing slash), e.g. `https://host/demo-idp`. */
  readonly issuer: string;
  /** The relying parties, or a function giving them (e.g. once a secret has been read from the database). */
  readonly clients: readonly DemoIdpClient[] | (() => Promise<readonly DemoIdpClient[]>);
  /** The people one can log in as (read on every login page, so new demo data shows at once). */
  readonly users: () => Promise<readonly DemoUser[]>;
  readonly keys: DemoIdpSigner;
  readonly db: Database;
}

/** Lifetimes, in seconds. */
export const DEMO_IDP_TTL = {
  /** Between the login page and the form post. */
  request: 600,
  code: 60,
  accessToken: 300,
  idToken: 300,
} as const;

/** The acr the demo provider asserts (Pro Santé Connect asks for `eidas1`). */
export const DEMO_IDP_ACR = 'eidas1';

/** Login page to show (the pending request is stored under `requestId`). */
export interface LoginView {
  readonly kind: 'login';
  readonly status: number;
  readonly action: string;
  readonly requestId: string;
  readonly clientId: string;
  readonly users: readonly DemoUser[];
  readonly error?: string;
}

/** Outcome of `/authorize` and `/login`: a page, a redirect to the client, or an error page (never a redirect). */
export type InteractionResult =
  | LoginView
  | { readonly kind: 'redirect'; readonly location: string }
  | { readonly kind: 'error-page'; readonly status: number; readonly message: string };

/** A JSON answer (token, userinfo). */
export interface JsonResult {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers?: Readonly<Record<string, string>>;
}

interface PendingRequest {
  client_id: string;
  redirect_uri: string;
  scope: string;
  code_challenge: string;
  state?: string;
  nonce?: string;
}

interface CodeData extends PendingRequest {
  user_id: string;
  claims: Record<string, unknown>;
  auth_time: number;
}

interface AccessTokenData {
  client_id: string;
  code_hash: string;
  claims: Record<string, unknown>;
}

/** Parameters of the authorisation request that must appear at most once (RFC 6749 §3.1). */
const SINGLE_PARAMS = ['client_id', 'redirect_uri', 'response_type', 'response_mode', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'prompt'];
const MAX_PASSTHROUGH_LENGTH = 2048;
const CODE_CHALLENGE_RE = /^[A-Za-z0-9_-]{43}$/;
const CODE_VERIFIER_RE = /^[A-Za-z0-9._~-]{43,128}$/;
/** Claims the provider sets itself on an ID token, never taken from the user's claims. */
const PROTOCOL_CLAIMS = new Set(['iss', 'aud', 'azp', 'exp', 'iat', 'nbf', 'jti', 'nonce', 'auth_time', 'acr', 'amr', 'at_hash', 'c_hash', 'sid']);

/**
 * The built-in demo OpenID Connect provider, transport-free: authorisation code flow with PKCE S256,
 * a login page where one picks a demo person, `client_secret_basic`/`client_secret_post` at the token
 * endpoint, an ES256 ID token carrying Pro Santé Connect–style claims, userinfo and JWKS. Every piece
 * of state (pending requests, codes, access tokens) is in the database, stored as hashes, so several
 * stateless server processes can serve one login.
 */
export class DemoIdentityProvider {
  readonly issuer: string;

  constructor(private readonly options: DemoIdpOptions) {
    this.issuer = options.issuer.replace(/\/+$/, '');
  }

  /** Endpoint URLs (under the issuer). */
  get endpoints(): { authorize: string; login: string; token: string; userinfo: string; jwks: string } {
    return {
      authorize: `${this.issuer}/authorize`,
      login: `${this.issuer}/login`,
      token: `${this.issuer}/token`,
      userinfo: `${this.issuer}/userinfo`,
      jwks: `${this.issuer}/jwks`,
    };
  }

  /** OpenID Provider Metadata (`/.well-known/openid-configuration`). */
  discovery(): Record<string, unknown> {
    const e = this.endpoints;
    return {
      issuer: this.issuer,
      authorization_endpoint: e.authorize,
      token_endpoint: e.token,
      userinfo_endpoint: e.userinfo,
      jwks_uri: e.jwks,
      scopes_supported: ['openid', 'scope_all'],
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: ['authorization_code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [...SIGNING_ALGORITHMS],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      code_challenge_methods_supported: ['S256'],
      acr_values_supported: [DEMO_IDP_ACR],
      claims_supported: [
        'sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'acr', 'given_name', 'family_name', 'preferred_username',
        'SubjectNameID', 'SubjectRefPro', 'Acces_Regulation_Medicale', 'ins',
      ],
      claims_parameter_supported: false,
      request_parameter_supported: false,
      request_uri_parameter_supported: false,
      // RFC 9207: every authorisation response carries `iss` (mix-up defence).
      authorization_response_iss_parameter_supported: true,
    };
  }

  async jwks(): Promise<{ keys: JWK[] }> {
    return this.options.keys.jwks('demo-idp');
  }

  /** `GET|POST /authorize`: validates the request, stores it, and returns the login page to show. */
  async authorize(params: URLSearchParams): Promise<InteractionResult> {
    const clientId = params.get('client_id');
    const redirectUri = params.get('redirect_uri');
    if (params.getAll('client_id').length > 1 || params.getAll('redirect_uri').length > 1) {
      return errorPage(400, 'La demande de connexion est invalide (paramètre client_id ou redirect_uri répété).');
    }
    const client = clientId ? await this.client(clientId) : undefined;
    if (!client) {
      return errorPage(400, 'Application inconnue : le paramètre client_id ne désigne aucune application enregistrée.');
    }
    if (!redirectUri || !client.redirect_uris.includes(redirectUri)) {
      return errorPage(400, 'Adresse de retour (redirect_uri) non enregistrée pour cette application : la connexion ne peut pas y revenir.');
    }
    // From here on the redirect URI is trusted: errors go back to the client.
    const state = params.get('state') ?? undefined;
    const back = (error: string, description: string): InteractionResult => ({
      kind: 'redirect',
      location: this.redirect(redirectUri, { error, error_description: description, state }),
    });
    const repeated = SINGLE_PARAMS.find((p) => params.getAll(p).length > 1);
    if (repeated) {
      return back('invalid_request', `parameter ${repeated} given more than once`);
    }
    if (params.has('request')) {
      return back('request_not_supported', 'request objects are not supported');
    }
    if (params.has('request_uri')) {
      return back('request_uri_not_supported', 'request_uri is not supported');
    }
    if (params.get('response_type') !== 'code') {
      return back('unsupported_response_type', 'only response_type=code is supported');
    }
    const responseMode = params.get('response_mode');
    if (responseMode !== null && responseMode !== 'query') {
      return back('invalid_request', 'only response_mode=query is supported');
    }
    const scope = params.get('scope') ?? '';
    if (!scope.split(' ').includes('openid')) {
      return back('invalid_scope', 'the scope must contain openid');
    }
    const challenge = params.get('code_challenge');
    const method = params.get('code_challenge_method');
    if (!challenge || method !== 'S256') {
      return back('invalid_request', 'PKCE is required with code_challenge_method=S256');
    }
    if (!CODE_CHALLENGE_RE.test(challenge)) {
      return back('invalid_request', 'code_challenge must be a base64url SHA-256 (43 characters)');
    }
    const nonce = params.get('nonce') ?? undefined;
    if ((state?.length ?? 0) > MAX_PASSTHROUGH_LENGTH || (nonce?.length ?? 0) > MAX_PASSTHROUGH_LENGTH) {
      return back('invalid_request', `state and nonce are limited to ${MAX_PASSTHROUGH_LENGTH} characters`);
    }
    if ((params.get('prompt') ?? '').split(' ').includes('none')) {
      return back('login_required', 'a person must choose who logs in');
    }
    const pending: PendingRequest = { client_id: client.client_id, redirect_uri: redirectUri, scope, code_challenge: challenge, state, nonce };
    const requestId = randomSecret();
    await this.options.db.query(
      `INSERT INTO demo_idp_secrets (secret_hash, kind, data, expires_at) VALUES ($1, 'request', $2, now() + make_interval(secs => $3::int))`,
      [secretHash(requestId), pending, DEMO_IDP_TTL.request]
    );
    return this.loginView(requestId, pending, 200);
  }

  /** `POST /login` (form `request`, `user`, `action`): issues a code and redirects back to the client. */
  async login(form: URLSearchParams): Promise<InteractionResult> {
    const requestId = form.get('request') ?? '';
    const hash = secretHash(requestId);
    const { rows } = await this.options.db.query<{ data: PendingRequest }>(
      `SELECT data FROM demo_idp_secrets WHERE secret_hash = $1 AND kind = 'request' AND used_at IS NULL AND expires_at > now()`,
      [hash]
    );
    const pending = rows[0]?.data;
    if (!requestId || !pending) {
      return errorPage(400, 'Cette demande de connexion a expiré ou a déjà servi.');
    }
    if (form.get('action') === 'cancel') {
      if (!(await this.consume(this.options.db, hash, 'request'))) {
        return errorPage(400, 'Cette demande de connexion a expiré ou a déjà servi.');
      }
      return { kind: 'redirect', location: this.redirect(pending.redirect_uri, { error: 'access_denied', error_description: 'the person cancelled the login', state: pending.state }) };
    }
    const userId = form.get('user');
    const user = userId ? (await this.options.users()).find((u) => u.id === userId) : undefined;
    if (!user) {
      return this.loginView(requestId, pending, 400, userId ? 'Cette personne n’est plus disponible : choisissez-en une autre.' : 'Choisissez une personne avant de vous connecter.');
    }
    const code = randomSecret();
    const data: CodeData = { ...pending, user_id: user.id, claims: user.claims, auth_time: Math.floor(Date.now() / 1000) };
    const issued = await this.options.db.withTransaction(async (tx) => {
      if (!(await this.consume(tx, hash, 'request'))) {
        return false;
      }
      // Housekeeping: expired rows go after a day (used codes are kept that long to detect their reuse).
      await tx.query(`DELETE FROM demo_idp_secrets WHERE expires_at < now() - interval '1 day'`);
      await tx.query(
        `INSERT INTO demo_idp_secrets (secret_hash, kind, data, expires_at) VALUES ($1, 'code', $2, now() + make_interval(secs => $3::int))`,
        [secretHash(code), data, DEMO_IDP_TTL.code]
      );
      return true;
    });
    if (!issued) {
      return errorPage(400, 'Cette demande de connexion a expiré ou a déjà servi.');
    }
    return { kind: 'redirect', location: this.redirect(pending.redirect_uri, { code, state: pending.state }) };
  }

  /** `POST /token`: the authorization_code grant (client_secret_basic or client_secret_post). */
  async token(body: URLSearchParams, authorization: string | undefined): Promise<JsonResult> {
    const auth = await this.authenticateClient(body, authorization);
    if ('error' in auth) {
      return auth.error;
    }
    const repeated = ['grant_type', 'code', 'redirect_uri', 'code_verifier'].find((p) => body.getAll(p).length > 1);
    if (repeated) {
      return oauthError(400, 'invalid_request', `parameter ${repeated} given more than once`);
    }
    if (body.get('grant_type') !== 'authorization_code') {
      return oauthError(400, 'unsupported_grant_type', 'only the authorization_code grant is supported');
    }
    const code = body.get('code');
    if (!code) {
      return oauthError(400, 'invalid_request', 'code is required');
    }
    const codeHash = secretHash(code);
    const found = await this.options.db.withTransaction(async (tx) => {
      const { rows } = await tx.query<{ data: CodeData; used: boolean; expired: boolean }>(
        `SELECT data, used_at IS NOT NULL AS used, expires_at <= now() AS expired FROM demo_idp_secrets
          WHERE secret_hash = $1 AND kind = 'code' FOR UPDATE`,
        [codeHash]
      );
      const row = rows[0];
      if (!row) {
        return { status: 'unknown' as const };
      }
      if (row.used) {
        // A code used twice: revoke what the first use gave (RFC 6749 §4.1.2).
        await tx.query(`DELETE FROM demo_idp_secrets WHERE kind = 'access_token' AND data->>'code_hash' = $1`, [codeHash]);
        return { status: 'reused' as const };
      }
      await tx.query(`UPDATE demo_idp_secrets SET used_at = now() WHERE secret_hash = $1`, [codeHash]);
      return row.expired ? { status: 'expired' as const } : { status: 'ok' as const, data: row.data };
    });
    if (found.status !== 'ok') {
      return oauthError(400, 'invalid_grant', `the authorization code is ${found.status === 'unknown' ? 'unknown' : found.status === 'reused' ? 'already used' : 'expired'}`);
    }
    const data = found.data;
    if (data.client_id !== auth.client.client_id) {
      return oauthError(400, 'invalid_grant', 'the authorization code was issued to another client');
    }
    if (body.get('redirect_uri') !== data.redirect_uri) {
      return oauthError(400, 'invalid_grant', 'redirect_uri differs from the authorization request');
    }
    const verifier = body.get('code_verifier');
    if (!verifier || !CODE_VERIFIER_RE.test(verifier)) {
      return oauthError(400, 'invalid_grant', 'a valid code_verifier is required (PKCE)');
    }
    if (!sameSecret(pkceS256(verifier), data.code_challenge)) {
      return oauthError(400, 'invalid_grant', 'code_verifier does not match the code_challenge');
    }
    const userClaims = Object.fromEntries(Object.entries(data.claims).filter(([k]) => !PROTOCOL_CLAIMS.has(k)));
    const idToken = await this.options.keys.sign(
      'demo-idp',
      {
        ...userClaims,
        iss: this.issuer,
        aud: data.client_id,
        sub: String(data.claims.sub),
        auth_time: data.auth_time,
        acr: DEMO_IDP_ACR,
        ...(data.nonce !== undefined ? { nonce: data.nonce } : {}),
      },
      { expiresInSeconds: DEMO_IDP_TTL.idToken }
    );
    const accessToken = randomSecret();
    const tokenData: AccessTokenData = { client_id: data.client_id, code_hash: codeHash, claims: data.claims };
    await this.options.db.query(
      `INSERT INTO demo_idp_secrets (secret_hash, kind, data, expires_at) VALUES ($1, 'access_token', $2, now() + make_interval(secs => $3::int))`,
      [secretHash(accessToken), tokenData, DEMO_IDP_TTL.accessToken]
    );
    return {
      status: 200,
      body: { access_token: accessToken, token_type: 'Bearer', expires_in: DEMO_IDP_TTL.accessToken, id_token: idToken, scope: data.scope },
      headers: { 'Cache-Control': 'no-store', Pragma: 'no-cache' },
    };
  }

  /** `GET|POST /userinfo`: the user's claims for a valid Bearer access token. */
  async userinfo(authorization: string | undefined): Promise<JsonResult> {
    const match = /^Bearer +([A-Za-z0-9._~+/-]+=*)$/i.exec(authorization ?? '');
    const unauthorised = (error?: string): JsonResult => ({
      status: 401,
      body: error ? { error, error_description: 'the access token is unknown or expired' } : { error: 'invalid_request', error_description: 'a Bearer access token is required' },
      headers: { 'WWW-Authenticate': error ? `Bearer realm="demo-idp", error="${error}"` : 'Bearer realm="demo-idp"' },
    });
    if (!match) {
      return unauthorised();
    }
    const { rows } = await this.options.db.query<{ data: AccessTokenData }>(
      `SELECT data FROM demo_idp_secrets WHERE secret_hash = $1 AND kind = 'access_token' AND expires_at > now()`,
      [secretHash(match[1])]
    );
    if (!rows[0]) {
      return unauthorised('invalid_token');
    }
    return { status: 200, body: { ...rows[0].data.claims }, headers: { 'Cache-Control': 'no-store' } };
  }

  private async client(clientId: string): Promise<DemoIdpClient | undefined> {
    const clients = typeof this.options.clients === 'function' ? await this.options.clients() : this.options.clients;
    return clients.find((c) => c.client_id === clientId);
  }

  /** RFC 6749 §2.3.1: HTTP Basic (form-encoded id and secret) or both in the body; never both methods. */
  private async authenticateClient(body: URLSearchParams, authorization: string | undefined): Promise<{ client: DemoIdpClient } | { error: JsonResult }> {
    const basic = /^Basic +([A-Za-z0-9+/=]+)$/i.exec(authorization ?? '');
    const invalid = (description: string): { error: JsonResult } => ({
      error: {
        ...oauthError(401, 'invalid_client', description),
        ...(basic ? { headers: { 'WWW-Authenticate': 'Basic realm="demo-idp"', 'Cache-Control': 'no-store' } } : {}),
      },
    });
    let clientId: string | null;
    let secret: string | null;
    if (basic) {
      if (body.has('client_secret')) {
        return { error: oauthError(400, 'invalid_request', 'use one client authentication method, not two') };
      }
      const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) {
        return invalid('malformed Basic credentials');
      }
      try {
        clientId = formDecode(decoded.slice(0, colon));
        secret = formDecode(decoded.slice(colon + 1));
      } catch {
        return invalid('malformed Basic credentials');
      }
      const bodyId = body.get('client_id');
      if (bodyId !== null && bodyId !== clientId) {
        return invalid('client_id differs from the authenticated client');
      }
    } else {
      if (body.getAll('client_id').length > 1 || body.getAll('client_secret').length > 1) {
        return { error: oauthError(400, 'invalid_request', 'client_id and client_secret may appear once') };
      }
      clientId = body.get('client_id');
      secret = body.get('client_secret');
    }
    if (!clientId || !secret) {
      return invalid('client authentication is required (client_secret_basic or client_secret_post)');
    }
    const client = await this.client(clientId);
    if (!client || !sameSecret(secret, client.client_secret)) {
      return invalid('client authentication failed');
    }
    return { client };
  }

  /** Marks a pending secret used; false when someone else already did (or it expired). */
  private async consume(q: Queryable, hash: string, kind: 'request' | 'code'): Promise<boolean> {
    const { rows } = await q.query(
      `UPDATE demo_idp_secrets SET used_at = now() WHERE secret_hash = $1 AND kind = $2 AND used_at IS NULL AND expires_at > now() RETURNING secret_hash`,
      [hash, kind]
    );
    return rows.length === 1;
  }

  private async loginView(requestId: string, pending: PendingRequest, status: number, error?: string): Promise<LoginView> {
    return {
      kind: 'login',
      status,
      action: this.endpoints.login,
      requestId,
      clientId: pending.client_id,
      users: await this.options.users(),
      ...(error ? { error } : {}),
    };
  }

  /** The client's redirect URI with response parameters added (and `iss`, RFC 9207). */
  private redirect(redirectUri: string, params: Record<string, string | undefined>): string {
    const url = new URL(redirectUri);
    for (const [key, value] of Object.entries({ ...params, iss: this.issuer })) {
      if (value !== undefined) {
        url.searchParams.set(key, value);
      }
    }
    return url.href;
  }
}

function errorPage(status: number, message: string): InteractionResult {
  return { kind: 'error-page', status, message };
}

function oauthError(status: number, error: string, description: string): JsonResult {
  return { status, body: { error, error_description: description }, headers: { 'Cache-Control': 'no-store' } };
}

/** application/x-www-form-urlencoded decoding of one Basic credential part (RFC 6749 §2.3.1). */
function formDecode(text: string): string {
  return decodeURIComponent(text.replace(/\+/g, ' '));
}

/** Constant-time comparison of two secrets (of any lengths). */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
