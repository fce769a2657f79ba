import * as oidc from 'openid-client';

/** Settings of the upstream OpenID Connect provider (Pro Santé Connect, or the built-in demo one). */
export interface UpstreamOidcSettings {
  /** Issuer identifier; discovery at `$issuer/.well-known/openid-configuration`. */
  readonly issuer: string;
  readonly clientId: string;
  /** The client secret, or a function giving it (e.g. read from the database on first use). */
  readonly clientSecret: string | (() => Promise<string>);
  /** Our callback URL, registered at the provider (sent as `redirect_uri`). */
  readonly redirectUri: string;
}

/** What must be kept (server side) between `startLogin` and `finishLogin`. */
export interface PendingUpstreamLogin {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
}

export type UpstreamLoginErrorCode =
  /** The provider's metadata could not be fetched or is unusable. */
  | 'discovery'
  /** The provider (or the person) refused: `error=` on the callback. */
  | 'denied'
  /** The callback or a response failed a check (state, code, ID token signature, iss, aud, nonce, expiry...). */
  | 'invalid-response';

/** A failed upstream login; `message` is safe to show and log (no token, no claim values). */
export class UpstreamLoginError extends Error {
  constructor(
    readonly code: UpstreamLoginErrorCode,
    message: string,
    options?: { cause?: unknown }
  ) {
    super(message, options);
    this.name = 'UpstreamLoginError';
  }
}

/** The scope and acr Pro Santé Connect expects. */
export const UPSTREAM_SCOPE = 'openid scope_all';
export const UPSTREAM_ACR_VALUES = 'eidas1';

/** Discovery and JWKS requests give up after this many seconds. */
const TIMEOUT_SECONDS = 10;

/**
 * The server as an OpenID Connect relying party of the upstream identity provider (openid-client):
 * authorisation code flow with PKCE S256, `state` and `nonce`; the ID token is verified by
 * openid-client (signature against the provider's JWKS, `iss`, `aud`, `nonce`, expiry) and its
 * claims are merged with the userinfo claims (JSON, or a JWT whose signature is checked too).
 */
export class UpstreamOidc {
  private readonly issuerUrl: URL;
  private configuration?: Promise<oidc.Configuration>;

  constructor(private readonly settings: UpstreamOidcSettings) {
    this.issuerUrl = new URL(settings.issuer);
    if (this.issuerUrl.protocol !== 'https:' && !(this.issuerUrl.protocol === 'http:' && isLoopback(this.issuerUrl.hostname))) {
      throw new UpstreamLoginError('discovery', 'The upstream OpenID Connect issuer must use https (plain http only on localhost / loopback)');
    }
  }

  /** Builds the authorisation URL to send the browser to, with fresh state, nonce and PKCE verifier. */
  async startLogin(): Promise<{ url: string } & PendingUpstreamLogin> {
    const config = await this.config();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.redirectUri,
      scope: UPSTREAM_SCOPE,
      acr_values: UPSTREAM_ACR_VALUES,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, state, nonce, codeVerifier };
  }

  /**
   * Completes the login from the callback URL the browser came back to: checks the response,
   * redeems the code, verifies the ID token and reads userinfo. Only the callback's query is used:
   * the `redirect_uri` sent to the token endpoint is always the configured one (proxies may change
   * the host or scheme the server sees).
   */
  async finishLogin(callbackUrl: URL, expected: PendingUpstreamLogin): Promise<Record<string, unknown>> {
    const config = await this.config();
    const current = new URL(this.settings.redirectUri);
    current.search = callbackUrl.search;
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: expected.codeVerifier,
        expectedState: expected.state,
        expectedNonce: expected.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      throw await loginError(err, 'the authorisation response or the token response failed verification');
    }
    const idClaims = tokens.claims();
    if (!idClaims) {
      throw new UpstreamLoginError('invalid-response', 'The identity provider returned no ID token');
    }
    let userinfo: Record<string, unknown> = {};
    if (config.serverMetadata().userinfo_endpoint) {
      try {
        userinfo = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);
      } catch (err) {
        throw await loginError(err, 'the userinfo response failed verification');
      }
    }
    // The verified ID token wins over userinfo for the claims both carry.
    return { ...userinfo, ...idClaims };
  }

  /** Discovery, done once and cached; a failure is not cached, so the next login tries again. */
  private config(): Promise<oidc.Configuration> {
    if (!this.configuration) {
      const pending = this.discover();
      this.configuration = pending;
      pending.catch(() => {
        if (this.configuration === pending) {
          this.configuration = undefined;
        }
      });
    }
    return this.configuration;
  }

  private async discover(): Promise<oidc.Configuration> {
    const { clientSecret } = this.settings;
    const secret = typeof clientSecret === 'function' ? await clientSecret() : clientSecret;
    const execute: ((config: oidc.Configuration) => void)[] = [
      // Verify signatures of ID tokens (and JWT userinfo) against the provider's JWKS: openid-client
      // skips that by default for responses read straight from the token endpoint over TLS.
      oidc.enableNonRepudiationChecks,
    ];
    if (this.issuerUrl.protocol === 'http:') {
      // Plain http is allowed only for a provider on this machine (the built-in demo provider, test
      // providers): the constructor refuses any other http issuer.
      execute.push(oidc.allowInsecureRequests);
    }
    let discovered: oidc.Configuration;
    try {
      discovered = await oidc.discovery(this.issuerUrl, this.settings.clientId, secret, undefined, { execute, timeout: TIMEOUT_SECONDS });
    } catch (err) {
      throw await loginError(err, 'the identity provider metadata could not be read', 'discovery');
    }
    const metadata = discovered.serverMetadata();
    // client_secret_basic is the OAuth default; client_secret_post only when the provider says it
    // supports nothing else.
    const methods = metadata.token_endpoint_auth_methods_supported;
    if (methods && !methods.includes('client_secret_basic') && methods.includes('client_secret_post')) {
      return discovered;
    }
    const config = new oidc.Configuration(metadata, this.settings.clientId, secret, oidc.ClientSecretBasic(secret));
    config.timeout = TIMEOUT_SECONDS;
    for (const step of execute) {
      step(config);
    }
    return config;
  }
}

/** Maps an openid-client failure to a safe error (the provider's error code at most, never its free text). */
async function loginError(err: unknown, what: string, code: UpstreamLoginErrorCode = 'invalid-response'): Promise<UpstreamLoginError> {
  if (err instanceof oidc.AuthorizationResponseError) {
    return new UpstreamLoginError('denied', `The identity provider refused the login (${safeCode(err.error)})`, { cause: err });
  }
  if (err instanceof oidc.ResponseBodyError) {
    return new UpstreamLoginError(code, `The identity provider refused a request (${safeCode(err.error)}): ${what}`, { cause: err });
  }
  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    // A 401 with a challenge (e.g. invalid_client with Basic): the error code is in the challenge or the body.
    const fromBody = await err.response
      .clone()
      .json()
      .then((body: unknown) => (body && typeof body === 'object' ? (body as { error?: unknown }).error : undefined))
      .catch(() => undefined);
    const errorCode = err.cause[0]?.parameters.error ?? (typeof fromBody === 'string' ? fromBody : `HTTP ${err.status}`);
    return new UpstreamLoginError(code, `The identity provider refused a request (${safeCode(errorCode)}): ${what}`, { cause: err });
  }
  // openid-client's own checks (signature, iss, aud, nonce, state, expiry...) carry a constant code.
  const reason = (err as { code?: unknown })?.code;
  const detail = typeof reason === 'string' && /^[A-Z][A-Z0-9_]{1,80}$/.test(reason) ? ` [${reason}]` : '';
  return new UpstreamLoginError(code, `Upstream login failed: ${what}${detail}`, { cause: err });
}

function safeCode(code: string): string {
  return /^[A-Za-z0-9_. -]{1,64}$/.test(code) ? code : 'error';
}

/** localhost, *.localhost, 127.0.0.0/8 and ::1. */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}
