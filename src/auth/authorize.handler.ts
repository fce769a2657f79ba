import { randomUUID } from 'node:crypto';
import type { Patient } from '@medplum/fhirtypes';
import { currentContext } from '../context/request-context.js';
import { representedMinors, representsMinor } from './represented-records.js';
import { ACCESS_MODES, type AccessMode } from '../policy/principal.js';
import type { SmartClient } from './clients.js';
import type { Grant, GrantSubject } from './grant.js';
import { randomSecret } from './hash.js';
import { OAuthError } from './oauth-errors.js';
import { errorPage } from './html.js';
import { intersectScopes, parseScopes } from './scopes.js';
import type { AuthServices } from './services.js';

type Params = Record<string, string | undefined>;

/** What an authorisation endpoint answers: a redirect (maybe setting the browser cookie) or a page. */
export type AuthResult =
  | { readonly kind: 'redirect'; readonly url: string; readonly browserSecret?: string }
  | { readonly kind: 'page'; readonly status: number; readonly html: string };

/** The app's request, kept while the user logs in upstream (and picks a patient). */
export interface PendingAuthorization {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly scope: string;
  readonly state: string;
  readonly codeChallenge: string;
  readonly launch?: string;
  readonly accessMode: AccessMode;
  readonly accessReason?: string;
  readonly nonce?: string;
  readonly upstream: { readonly nonce: string; readonly codeVerifier: string };
  /** Set after login when a professional must still pick the patient. */
  readonly identity?: LoggedIn;
}

/** The user as the upstream login established them. */
export type LoggedIn =
  | { readonly kind: 'practitioner'; readonly professional: Extract<GrantSubject, { kind: 'practitioner' }>['professional']; readonly fhirUser: string }
  | { readonly kind: 'patient'; readonly patientId: string; readonly fhirUser: string };

/** The upstream OpenID Connect login (Pro Santé Connect or the demo provider). */
export interface UpstreamLogin {
  startLogin(): Promise<{ url: string; state: string; nonce: string; codeVerifier: string }>;
  finishLogin(callbackUrl: URL, expected: { state: string; nonce: string; codeVerifier: string }): Promise<Record<string, unknown>>;
}

/** Maps upstream claims to a user of ours (professional upserted, patient matched by INS). */
export type IdentityResolver = (claims: Record<string, unknown>) => Promise<LoggedIn>;

/** What users of each kind may ever be granted (the third term of the scope intersection). */
const USER_MAY: Record<LoggedIn['kind'], string> = {
  practitioner: 'openid fhirUser profile launch launch/patient offline_access online_access patient/*.cruds user/*.cruds',
  patient: 'openid fhirUser profile launch launch/patient offline_access online_access patient/*.cruds',
};

/**
 * `GET|POST /auth/authorize` (SMART App Launch 2, RFC 6749 §4.1.1, RFC 7636). Untrusted client
 * or redirect URI: an error page. Any other problem: an `error=` redirect back to the app.
 */
export async function authorizeEndpoint(s: AuthServices, upstream: UpstreamLogin, p: Params): Promise<AuthResult> {
  const client = s.clients.find(p.client_id);
  if (!client) {
    return { kind: 'page', status: 400, html: errorPage('Application inconnue', `Le client_id « ${p.client_id ?? ''} » ne désigne aucune application enregistrée sur ce serveur.`) };
  }
  if (!p.redirect_uri || !client.redirect_uris.includes(p.redirect_uri)) {
    return { kind: 'page', status: 400, html: errorPage('Adresse de retour refusée', 'Cette adresse de retour (redirect_uri) n’est pas enregistrée pour cette application : le serveur ne vous y renverra pas.') };
  }
  try {
    const pending = await validateRequest(s, client, p);
    const login = await upstream.startLogin();
    const browserSecret = randomSecret();
    await s.store.saveRequest({ ...pending, upstream: { nonce: login.nonce, codeVerifier: login.codeVerifier } }, browserSecret, login.state);
    return { kind: 'redirect', url: login.url, browserSecret };
  } catch (err) {
    return appError(p.redirect_uri, p.state, err);
  }
}

async function validateRequest(s: AuthServices, client: SmartClient, p: Params): Promise<Omit<PendingAuthorization, 'upstream'>> {
  if (p.response_type !== 'code') {
    throw new OAuthError('unsupported_response_type', 'response_type must be code');
  }
  if (!client.grant_types.includes('authorization_code')) {
    throw new OAuthError('unauthorized_client', 'This client is not registered for the authorization code flow');
  }
  if (!p.code_challenge || p.code_challenge_method !== 'S256') {
    throw new OAuthError('invalid_request', 'PKCE is required with code_challenge_method=S256 (plain is refused)');
  }
  if (!p.state) {
    throw new OAuthError('invalid_request', 'state is required');
  }
  if (p.aud !== s.urls.fhirBase) {
    throw new OAuthError('invalid_request', `aud must be this server's FHIR base URL (${s.urls.fhirBase})`);
  }
  if (!p.scope || p.scope.trim() === '') {
    throw new OAuthError('invalid_scope', 'scope is required');
  }
  if (p.launch && !(await s.store.launchUsable(p.launch, client.client_id))) {
    throw new OAuthError('invalid_request', 'Unknown, expired, used or foreign launch parameter');
  }
  const accessMode = (p.access_mode ?? 'normal') as AccessMode;
  if (!ACCESS_MODES.includes(accessMode)) {
    throw new OAuthError('invalid_request', `access_mode must be one of ${ACCESS_MODES.join(', ')}`);
  }
  if (accessMode === 'bris_de_glace' && !p.access_reason?.trim()) {
    throw new OAuthError('invalid_request', 'access_reason is required for bris_de_glace');
  }
  return {
    clientId: client.client_id,
    redirectUri: p.redirect_uri as string,
    scope: p.scope,
    state: p.state,
    codeChallenge: p.code_challenge,
    launch: p.launch,
    accessMode,
    accessReason: p.access_reason?.trim() || undefined,
    nonce: p.nonce,
  };
}

/**
 * `GET /auth/callback`: back from the upstream login. Checks the request belongs to this browser
 * and is used once, verifies the upstream login, resolves the user, then finishes (or asks a
 * professional to pick the patient).
 */
export async function callbackEndpoint(s: AuthServices, upstream: UpstreamLogin, resolve: IdentityResolver, callbackUrl: URL, browserSecret: string | undefined): Promise<AuthResult> {
  const state = callbackUrl.searchParams.get('state') ?? '';
  const pending = state ? await s.store.loadRequest<PendingAuthorization>(state, browserSecret) : undefined;
  if (!pending || !(await s.store.consumeRequest(state))) {
    return { kind: 'page', status: 400, html: errorPage('Connexion expirée', 'Cette connexion est inconnue, a expiré, a déjà servi ou a été commencée dans un autre navigateur.') };
  }
  try {
    if (callbackUrl.searchParams.get('error')) {
      throw new OAuthError('access_denied', `The identity provider refused the login (${callbackUrl.searchParams.get('error')})`);
    }
    const claims = await upstream.finishLogin(callbackUrl, { state, nonce: pending.upstream.nonce, codeVerifier: pending.upstream.codeVerifier });
    const identity = await resolve(claims).catch((err: Error) => {
      throw new OAuthError('access_denied', `The logged-in user is not known here: ${err.message}`);
    });
    return await continueWith(s, { ...pending, identity }, browserSecret as string);
  } catch (err) {
    return appError(pending.redirectUri, pending.state, err);
  }
}

/** After login: patient context from the launch, the user, or the picker; then the code. */
async function continueWith(s: AuthServices, pending: PendingAuthorization, browserSecret: string): Promise<AuthResult> {
  const identity = pending.identity as LoggedIn;
  checkAccessMode(pending, identity);
  let patientId: string | undefined;
  if (pending.launch) {
    patientId = await s.store.consumeLaunch(pending.launch, pending.clientId);
    if (!patientId) {
      throw new OAuthError('invalid_request', 'The launch expired or was used during the login');
    }
  }
  if (identity.kind === 'patient') {
    // A launch on another record: only a legal representative acting for the minor (DMP rule 8).
    if (patientId && patientId !== identity.patientId && !(await representsMinor(s.repo, identity, patientId))) {
      throw new OAuthError('access_denied', 'A patient can only launch with their own record or that of a minor they legally represent');
    }
    // A standalone login of a legal representative: they choose whose record (their own or a minor's).
    const choosesRecord = !patientId && parseScopes(pending.scope).special.has('launch/patient') && (await representedMinors(s.repo, identity)).length > 0;
    if (!choosesRecord) {
      patientId ??= identity.patientId;
    }
  }
  if (!patientId && parseScopes(pending.scope).special.has('launch/patient')) {
    const requestId = randomSecret();
    await s.store.saveRequest(pending, browserSecret, requestId);
    return { kind: 'redirect', url: `${s.urls.issuer}/auth/pick-patient?request=${encodeURIComponent(requestId)}` };
  }
  return issueCode(s, pending, patientId);
}

function checkAccessMode(pending: PendingAuthorization, identity: LoggedIn): void {
  if (pending.accessMode === 'normal') {
    return;
  }
  if (identity.kind !== 'practitioner') {
    throw new OAuthError('access_denied', `${pending.accessMode} is an access mode for health professionals only`);
  }
  if (pending.accessMode === 'centre_15' && !identity.professional.regulator) {
    throw new OAuthError('access_denied', 'centre_15 is granted only to SAMU regulators (Acces_Regulation_Medicale)');
  }
}

/** `POST /auth/pick-patient`: the professional chose the patient of a standalone launch (or a legal representative, whose record). */
export async function pickPatientEndpoint(s: AuthServices, requestId: string, patientId: string, browserSecret: string | undefined): Promise<AuthResult> {
  const pending = await s.store.loadRequest<PendingAuthorization>(requestId, browserSecret);
  if (!pending?.identity || !(await s.store.consumeRequest(requestId))) {
    return { kind: 'page', status: 400, html: errorPage('Demande expirée', 'Ce choix de patient est inconnu, a expiré ou a déjà servi.') };
  }
  try {
    const stored = await s.repo.read('Patient', patientId);
    if (!stored || stored.deleted) {
      throw new OAuthError('invalid_request', 'The chosen patient does not exist');
    }
    const identity = pending.identity;
    if (identity.kind === 'patient' && patientId !== identity.patientId && !(await representsMinor(s.repo, identity, patientId))) {
      throw new OAuthError('access_denied', 'A patient can only choose their own record or that of a minor they legally represent');
    }
    return await issueCode(s, pending, (stored.resource as Patient).id);
  } catch (err) {
    return appError(pending.redirectUri, pending.state, err);
  }
}

/** Computes the grant (requested ∩ client ∩ user), stores a code and sends the browser back to the app. */
async function issueCode(s: AuthServices, pending: PendingAuthorization, patientId: string | undefined): Promise<AuthResult> {
  const identity = pending.identity as LoggedIn;
  const client = s.clients.find(pending.clientId) as SmartClient;
  let scope = intersectScopes(pending.scope, client.scope, USER_MAY[identity.kind]);
  // No patient context: patient/ scopes and launch/patient cannot be honoured. No launch: no `launch` scope.
  scope = scope
    .split(' ')
    .filter((sc) => (patientId || (!sc.startsWith('patient/') && sc !== 'launch/patient')) && (pending.launch || sc !== 'launch'))
    .join(' ');
  if (parseScopes(scope).clinical.length === 0) {
    throw new OAuthError('invalid_scope', `Nothing requested can be granted (asked: ${pending.scope})`);
  }
  const grant: Grant = {
    clientId: pending.clientId,
    subject: identity.kind === 'practitioner' ? { kind: 'practitioner', professional: identity.professional } : { kind: 'patient', patientId: identity.patientId },
    scope,
    patientId,
    fhirUser: identity.fhirUser,
    accessMode: pending.accessMode,
    accessReason: pending.accessReason,
    needPatientBanner: !pending.launch,
    familyId: randomUUID(),
    userSub: identity.kind === 'practitioner' ? identity.professional.nationalId : identity.fhirUser,
    nonce: pending.nonce,
  };
  const code = await s.store.issueCode({ grant, redirectUri: pending.redirectUri, codeChallenge: pending.codeChallenge });
  return { kind: 'redirect', url: withParams(pending.redirectUri, { code, state: pending.state }) };
}

function appError(redirectUri: string, state: string | undefined, err: unknown): AuthResult {
  if (!(err instanceof OAuthError)) {
    currentContext()?.logger.error({ err: (err as Error)?.message }, 'authorisation failed');
  }
  const e = err instanceof OAuthError ? err : new OAuthError('server_error', 'The authorisation could not be completed');
  return { kind: 'redirect', url: withParams(redirectUri, { error: e.error, error_description: e.description, ...(state ? { state } : {}) }) };
}

function withParams(base: string, params: Record<string, string>): string {
  const url = new URL(base);
  for (const [k, v] of Object.entries(params)) {
    url.searchParams.set(k, v);
  }
  return url.toString();
}
