import type { AuthenticatedPrincipal } from '../policy/principal.js';
import { OAuthError } from './oauth-errors.js';
import type { AuthServices } from './services.js';
import { InvalidTokenError } from './token-service.js';

type Form = Record<string, string | undefined>;

/**
 * `POST /auth/introspect` (RFC 7662 + SMART): the caller authenticates as a registered client, or
 * presents a valid access token. Unknown, expired or revoked tokens answer `{active: false}`.
 */
export async function introspectEndpoint(s: AuthServices, form: Form, authorization: string | undefined): Promise<Record<string, unknown>> {
  await authenticateCaller(s, form, authorization);
  if (!form.token) {
    throw new OAuthError('invalid_request', 'token is required');
  }
  return (await s.tokens.introspect(form.token)) ?? { active: false };
}

async function authenticateCaller(s: AuthServices, form: Form, authorization: string | undefined): Promise<void> {
  const bearer = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1];
  if (bearer) {
    try {
      await s.tokens.verifyAccessToken(bearer);
      return;
    } catch (err) {
      if (err instanceof InvalidTokenError) {
        throw new OAuthError('invalid_client', 'The bearer token of the introspection request is not valid');
      }
      throw err;
    }
  }
  const client = await s.clientAuth.authenticate(form, authorization);
  if (client.token_endpoint_auth_method === 'none') {
    // A public client naming itself proves nothing: it introspects with its access token instead.
    throw new OAuthError('invalid_client', 'Introspection needs client authentication or a bearer access token; a client_id alone is not enough');
  }
}

/**
 * `POST /auth/revoke` (RFC 7009): revokes an access token (by its id) or a refresh token (its whole
 * family) of the authenticated client. Answers 200 even for unknown tokens, as the RFC says.
 */
export async function revokeEndpoint(s: AuthServices, form: Form, authorization: string | undefined): Promise<void> {
  const client = await s.clientAuth.authenticate(form, authorization);
  if (!form.token) {
    throw new OAuthError('invalid_request', 'token is required');
  }
  if (form.token_type_hint !== 'refresh_token') {
    const claims = await s.tokens.introspect(form.token);
    if (claims) {
      if (claims.client_id === client.client_id) {
        await s.tokens.revokeAccessToken(form.token);
      }
      return;
    }
  }
  await s.store.revokeRefreshToken(form.token, client.client_id);
}

/**
 * `POST /auth/launch`: an EHR (a registered client with a valid access token) asks for an opaque
 * launch value for a patient; single use, 5 minutes, bound to the calling client (or to the
 * registered `client_id` it names, the app it launches).
 */
export async function launchEndpoint(s: AuthServices, caller: AuthenticatedPrincipal, body: unknown): Promise<{ launch: string }> {
  // An EHR launches: its backend (system) token or a professional's; never a patient's token.
  if (caller.kind !== 'system' && caller.kind !== 'practitioner') {
    throw new OAuthError('invalid_client', 'Only an EHR (a system client or a professional) may create launches', 403);
  }
  const { patient, client_id: target } = (body ?? {}) as { patient?: unknown; client_id?: unknown };
  if (typeof patient !== 'string' || patient === '') {
    throw new OAuthError('invalid_request', 'The body must be JSON {"patient": "<Patient id>"}');
  }
  const clientId = typeof target === 'string' && target !== '' ? target : caller.token.clientId;
  if (!s.clients.find(caller.token.clientId) || !s.clients.find(clientId)) {
    throw new OAuthError('invalid_client', 'Launches are made by and for registered clients');
  }
  const stored = await s.repo.read('Patient', patient);
  if (!stored || stored.deleted) {
    throw new OAuthError('invalid_request', `Patient ${patient} does not exist`);
  }
  return { launch: await s.store.issueLaunch(clientId, patient) };
}
