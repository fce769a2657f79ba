import type { Migration } from './index.js';

/**
 * The built-in demo identity provider's short-lived secrets, in the database so several server
 * processes can share them: pending authorisation requests (between the login page and the form
 * post), one-time authorisation codes (60 s) and opaque access tokens for userinfo (5 min).
 * Only SHA-256 hashes of the secrets are stored.
 */
export const demoIdpMigration: Migration = {
  id: '003-demo-idp',
  statements: [
    `CREATE TABLE demo_idp_secrets (
       secret_hash text PRIMARY KEY,
       kind text NOT NULL CHECK (kind IN ('request', 'code', 'access_token')),
       data jsonb NOT NULL,
       expires_at timestamptz NOT NULL,
       used_at timestamptz
     )`,
    `CREATE INDEX demo_idp_secrets_expires ON demo_idp_secrets (expires_at)`,
  ],
};
