import { randomUUID } from 'node:crypto';
import type { SmartClient } from './clients.js';
import type { Grant } from './grant.js';
import { pkceS256 } from './hash.js';
import { OAuthError } from './oauth-errors.js';
import { intersectScopes, parseScopes } from './scopes.js';
import type { AuthServices } from './services.js';

type Form = Record<string, string | undefined>;

/** Backend Services tokens: SMART says at most 5 minutes. */
const SYSTEM_TOKEN_TTL_S = 300;

/** `POST /auth/token` (RFC 6749 §4.1.3, §6, §4.4 + SMART App Launch 2 and Backend Services). */
export async function tokenEndpoint(s: AuthServices, form: Form, authorization: string | undefined): Promise<Record<string, unknown>> {
  switch (form.grant_type) {
    case 'authorization_code':
      return authorizationCodeGrant(s, form, await clientFor(s, form, authorization, 'authorization_code'));
    case 'refresh_token':
      return refreshTokenGrant(s, form, await clientFor(s, form, authorization, 'refresh_token'));
    case 'client_credentials':
      return clientCredentialsGrant(s, form, await clientFor(s, form, authorization, 'client_credentials'));
    case undefined:
      throw new OAuthError('invalid_request', 'grant_type is required');
    default:
      throw new OAuthError('unsupported_grant_type', `grant_type ${form.grant_type} is not supported`);
  }
}

async function clientFor(s: AuthServices, form: Form, authorization: string | undefined, grantType: SmartClient['grant_types'][number]): Promise<SmartClient> {
  const client = await s.clientAuth.authenticate(form, authorization);
  if (!client.grant_types.includes(grantType)) {
    throw new OAuthError('unauthorized_client', `This client is not registered for ${grantType}`);
  }
  return client;
}

async function authorizationCodeGrant(s: AuthServices, form: Form, client: SmartClient): Promise<Record<string, unknown>> {
  if (!form.code || !form.redirect_uri || !form.code_verifier) {
    throw new OAuthError('invalid_request', 'code, redirect_uri and code_verifier are required');
  }
  const data = await s.store.consumeCode(form.code);
  if (data === 'reused') {
    throw new OAuthError('invalid_grant', 'The authorization code was already used; the tokens it produced are revoked');
  }
  if (data === 'unknown' || data.grant.clientId !== client.client_id) {
    throw new OAuthError('invalid_grant', 'Unknown, expired or foreign authorization code');
  }
  if (data.redirectUri !== form.redirect_uri) {
    throw new OAuthError('invalid_grant', 'redirect_uri differs from the authorization request');
  }
  if (pkceS256(form.code_verifier) !== data.codeChallenge) {
    throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge (PKCE S256)');
  }
  return tokenResponse(s, data.grant, client);
}

async function refreshTokenGrant(s: AuthServices, form: Form, client: SmartClient): Promise<Record<string, unknown>> {
  if (!form.refresh_token) {
    throw new OAuthError('invalid_request', 'refresh_token is required');
  }
  // A refused scope must not use up the refresh token (a retry would then look like a replay): check first.
  const current = form.scope ? await s.store.peekRefreshToken(form.refresh_token, client.client_id) : undefined;
  if (current) {
    narrowedScope(form.scope as string, current.scope);
  }
  const grant = await s.store.useRefreshToken(form.refresh_token, client.client_id);
  if (grant === 'reused') {
    throw new OAuthError('invalid_grant', 'The refresh token was already used; every token of this authorisation is revoked');
  }
  if (grant === 'invalid') {
    throw new OAuthError('invalid_grant', 'Unknown, expired or revoked refresh token');
  }
  const scope = form.scope ? narrowedScope(form.scope, grant.scope) : grant.scope;
  return tokenResponse(s, { ...grant, scope }, client);
}

/** A refresh may narrow the grant, never widen it: every scope asked must be inside the grant. */
function narrowedScope(asked: string, granted: string): string {
  const wanted = asked.split(/\s+/).filter(Boolean);
  if (wanted.some((one) => intersectScopes(one, granted) !== one)) {
    throw new OAuthError('invalid_scope', 'A refresh cannot add scopes beyond the original grant');
  }
  return wanted.join(' ');
}

async function clientCredentialsGrant(s: AuthServices, form: Form, client: SmartClient): Promise<Record<string, unknown>> {
  const requested = form.scope ?? '';
  const granted = intersectScopes(requested, client.scope, 'system/*.cruds');
  if (!granted) {
    throw new OAuthError('invalid_scope', `None of the requested scopes (${requested || 'none'}) is allowed for this client; backend services get system/ scopes within their registration`);
  }
  const grant: Grant = {
    clientId: client.client_id,
    subject: { kind: 'system', ...(client.dmp_role ? { role: client.dmp_role } : {}) },
    scope: granted,
    accessMode: 'normal',
    needPatientBanner: false,
    familyId: randomUUID(),
  };
  const { token } = await s.tokens.issueAccessToken(grant, SYSTEM_TOKEN_TTL_S);
  return { access_token: token, token_type: 'Bearer', expires_in: SYSTEM_TOKEN_TTL_S, scope: granted };
}

/** The token response of a user grant: access token, and refresh / id_token / context when granted. */
async function tokenResponse(s: AuthServices, grant: Grant, client: SmartClient): Promise<Record<string, unknown>> {
  const scopes = parseScopes(grant.scope);
  const { token, expiresIn } = await s.tokens.issueAccessToken(grant);
  const wantsRefresh = scopes.special.has('offline_access') || scopes.special.has('online_access');
  const refresh = wantsRefresh && client.grant_types.includes('refresh_token') ? await s.store.issueRefreshToken(grant, s.refreshTokenTtlSeconds) : undefined;
  const idToken = scopes.special.has('openid') && grant.userSub ? await idTokenFor(s, grant) : undefined;
  return {
    access_token: token,
    token_type: 'Bearer',
    expires_in: expiresIn,
    scope: grant.scope,
    ...(refresh ? { refresh_token: refresh } : {}),
    ...(idToken ? { id_token: idToken } : {}),
    ...(grant.patientId ? { patient: grant.patientId } : {}),
    ...(grant.fhirUser ? { fhirUser: grant.fhirUser } : {}),
    need_patient_banner: grant.needPatientBanner,
    access_mode: grant.accessMode,
  };
}

/** OpenID Connect id_token for the app (SMART sso-openid-connect), with fhirUser when granted. */
function idTokenFor(s: AuthServices, grant: Grant): Promise<string> {
  const withFhirUser = parseScopes(grant.scope).special.has('fhirUser');
  return s.keys.sign(
    'server',
    {
      iss: s.urls.issuer,
      aud: grant.clientId,
      sub: grant.userSub,
      ...(grant.nonce ? { nonce: grant.nonce } : {}),
      ...(withFhirUser && grant.fhirUser ? { fhirUser: `${s.urls.fhirBase}/${grant.fhirUser}` } : {}),
    },
    { expiresInSeconds: 3600 }
  );
}
