import fs from 'node:fs';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';

export interface QueryResult<T> {
  rows: T[];
}

/** Anything that runs parameterised SQL: the database itself or an open transaction. */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
}

/** PostgreSQL behind one interface, whether a real server (pg pool) or embedded PGlite. */
export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs fn in one transaction: committed if fn resolves, rolled back if it throws. */
  withTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// Bytes come back as Buffer from pg and as Uint8Array from PGlite; bigint counts as strings from pg.
pg.types.setTypeParser(20, (v: string) => Number(v));

class PgDatabase implements Database {
  readonly kind = 'postgres' as const;
  constructor(private readonly pool: pg.Pool) {}

  async query<T>(sql: string, params: unknown[] = []): Promise<QueryResult<T>> {
    const result = await this.pool.query(sql, params);
    return { rows: result.rows as T[] };
  }

  async withTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx: Queryable = {
      query: async <R>(sql: string, params: unknown[] = []) => ({ rows: (await client.query(sql, params)).rows as R[] }),
    };
    try {
      await client.query('BEGIN');
      const result = await fn(tx);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

class PgliteDatabase implements Database {
  readonly kind = 'pglite' as const;
  constructor(private readonly db: PGlite) {}

  async query<T>(sql: string, params: unknown[] = []): Promise<QueryResult<T>> {
    const result = await this.db.query<T>(sql, params);
    return { rows: result.rows };
  }

  async withTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    // PGlite has one connection: its transaction() holds it exclusively until done.
    return this.db.transaction(async (t) =>
      fn({ query: async <R>(sql: string, params: unknown[] = []) => ({ rows: (await t.query<R>(sql, params)).rows }) })
    );
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

export interface DatabaseOptions {
  databaseUrl?: string;
  /** Folder of the embedded database; `memory://` for a throw-away one. */
  dataDir: string;
  poolSize: number;
}

/** Opens the database named by the settings: pg when a URL is given, PGlite otherwise. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    // statement_timeout is a connection setting: no query can hold a connection forever.
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize, statement_timeout: 30_000 });
    return new PgDatabase(pool);
  }
  if (!options.dataDir.startsWith('memory://')) {
    fs.mkdirSync(options.dataDir, { recursive: true });
  }
  const db = await PGlite.create(options.dataDir);
  return new PgliteDatabase(db);
}
