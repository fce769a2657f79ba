import { ASSERTION_ALGORITHMS } from './client-auth.js';
import type { AuthUrls } from './services.js';

const SCOPES_SUPPORTED = [
  'openid',
  'fhirUser',
  'profile',
  'launch',
  'launch/patient',
  'offline_access',
  'online_access',
  'patient/*.cruds',
  'user/*.cruds',
  'system/*.cruds',
  'patient/*.read',
  'user/*.read',
  'system/*.read',
];

/**
 * `GET [fhir]/.well-known/smart-configuration` (SMART App Launch 2 §Discovery): every capability
 * listed is implemented and tested.
 */
export function smartConfiguration(urls: AuthUrls): Record<string, unknown> {
  return {
    issuer: urls.issuer,
    jwks_uri: `${urls.issuer}/auth/jwks`,
    authorization_endpoint: urls.authorize,
    token_endpoint: urls.token,
    introspection_endpoint: `${urls.issuer}/auth/introspect`,
    revocation_endpoint: `${urls.issuer}/auth/revoke`,
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGORITHMS],
    scopes_supported: SCOPES_SUPPORTED,
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    capabilities: [
      'launch-ehr',
      'launch-standalone',
      'authorize-post',
      'client-public',
      'client-confidential-symmetric',
      'client-confidential-asymmetric',
      'sso-openid-connect',
      'context-banner',
      'context-ehr-patient',
      'context-standalone-patient',
      'permission-offline',
      'permission-online',
      'permission-patient',
      'permission-user',
      'permission-v1',
      'permission-v2',
    ],
  };
}

/** `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0) for apps using `openid`. */
export function openidConfiguration(urls: AuthUrls): Record<string, unknown> {
  return {
    issuer: urls.issuer,
    authorization_endpoint: urls.authorize,
    token_endpoint: urls.token,
    jwks_uri: `${urls.issuer}/auth/jwks`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['ES256', 'RS256'],
    scopes_supported: SCOPES_SUPPORTED,
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt', 'none'],
    code_challenge_methods_supported: ['S256'],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nonce', 'fhirUser'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
  };
}
