import type { Migration } from './index.js';

/**
 * The SMART authorisation server's state, in the database so several server processes can share
 * it: signing keys, pending authorisation requests, codes, launches, refresh tokens, revocations,
 * and client-assertion ids already seen. Secrets are stored as SHA-256 hashes, never in clear.
 */
export const authMigration: Migration = {
  id: '002-auth',
  statements: [
    `CREATE TABLE auth_keys (
       kid text PRIMARY KEY,
       purpose text NOT NULL,
       alg text NOT NULL,
       private_jwk jsonb NOT NULL,
       public_jwk jsonb NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now()
     )`,
    `CREATE INDEX auth_keys_purpose ON auth_keys (purpose, created_at)`,
    `CREATE TABLE auth_requests (
       id_hash text PRIMARY KEY,
       browser_hash text NOT NULL,
       data jsonb NOT NULL,
       expires_at timestamptz NOT NULL,
       used_at timestamptz
     )`,
    `CREATE TABLE auth_codes (
       code_hash text PRIMARY KEY,
       client_id text NOT NULL,
       grant_data jsonb NOT NULL,
       family_id text NOT NULL,
       expires_at timestamptz NOT NULL,
       used_at timestamptz
     )`,
    `CREATE TABLE auth_launches (
       launch_hash text PRIMARY KEY,
       client_id text NOT NULL,
       patient_id text NOT NULL,
       expires_at timestamptz NOT NULL,
       used_at timestamptz
     )`,
    `CREATE TABLE auth_refresh_tokens (
       token_hash text PRIMARY KEY,
       family_id text NOT NULL,
       client_id text NOT NULL,
       grant_data jsonb NOT NULL,
       expires_at timestamptz NOT NULL,
       used_at timestamptz,
       revoked_at timestamptz
     )`,
    `CREATE INDEX auth_refresh_family ON auth_refresh_tokens (family_id)`,
    `CREATE TABLE auth_revoked (
       jti text PRIMARY KEY,
       expires_at timestamptz NOT NULL
     )`,
    `CREATE TABLE auth_families_revoked (
       family_id text PRIMARY KEY,
       revoked_at timestamptz NOT NULL DEFAULT now()
     )`,
    `CREATE TABLE auth_assertion_jti (
       client_id text NOT NULL,
       jti text NOT NULL,
       expires_at timestamptz NOT NULL,
       PRIMARY KEY (client_id, jti)
     )`,
  ],
};
