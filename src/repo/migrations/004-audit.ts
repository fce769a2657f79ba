import type { Migration } from './index.js';

/**
 * The audit trail's hash chains: one chain per patient record (key = patient id; '' for events
 * about no patient). Each AuditEvent's hash covers the previous hash and the event itself.
 */
export const auditMigration: Migration = {
  id: '004-audit',
  statements: [
    `CREATE TABLE audit_chain (
       chain_key text PRIMARY KEY,
       seq bigint NOT NULL,
       last_hash text NOT NULL
     )`,
    `CREATE TABLE audit_chain_entries (
       chain_key text NOT NULL,
       seq bigint NOT NULL,
       audit_id text NOT NULL,
       hash text NOT NULL,
       PRIMARY KEY (chain_key, seq)
     )`,
  ],
};
