import type { Database } from '../pool.js';
import { initMigration } from './001-init.js';
import { authMigration } from './002-auth.js';
import { demoIdpMigration } from './003-demo-idp.js';
import { auditMigration } from './004-audit.js';
import { relatedPersonMigration } from './005-related-person.js';
import { binaryStorageMigration } from './006-binary-storage.js';
import { indexProbesMigration } from './007-index-probes.js';

/** A schema change: SQL statements run once, in order, in one transaction. */
export interface Migration {
  readonly id: string;
  readonly statements: readonly string[];
}

/** Every migration, oldest first. Never edit one that has shipped: add a new one. */
export const MIGRATIONS: readonly Migration[] = [initMigration, authMigration, demoIdpMigration, auditMigration, relatedPersonMigration, binaryStorageMigration, indexProbesMigration];

// Arbitrary constant: serialises concurrent migrators (several instances starting together).
const MIGRATION_LOCK_KEY = 804_271_001;

/** Applies the migrations not yet applied; returns the ids it applied. */
export async function migrate(db: Database): Promise<string[]> {
  return db.withTransaction(async (tx) => {
    if (db.kind === 'postgres') {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    }
    await tx.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())'
    );
    const done = new Set((await tx.query<{ id: string }>('SELECT id FROM schema_migrations')).rows.map((r) => r.id));
    const applied: string[] = [];
    for (const migration of MIGRATIONS) {
      if (done.has(migration.id)) {
        continue;
      }
      for (const statement of migration.statements) {
        await tx.query(statement);
      }
      await tx.query('INSERT INTO schema_migrations (id) VALUES ($1)', [migration.id]);
      applied.push(migration.id);
    }
    return applied;
  });
}
