import { randomUUID } from 'node:crypto';
import type { Binary, Resource } from '@medplum/fhirtypes';
import { FhirError } from '../fhir/outcomes.js';
import { currentTable, historyTable, isSupportedType, type SupportedType } from '../fhir/resource-types.js';
import { parseReference } from '../fhir/references.js';
import type { SecurityFilter } from '../policy/search-filter.js';
import { SqlParams } from './sql.js';
import { indexResource, patientIdOf } from './indexer.js';
import { writeFreshIndexes, writeIndex } from './index-writer.js';
import type { Database, Queryable } from './pool.js';

/** One stored version of a resource. `resource` is absent for a deletion. */
export interface StoredVersion {
  readonly id: string;
  readonly versionId: number;
  readonly lastUpdated: Date;
  readonly deleted: boolean;
  readonly method: 'POST' | 'PUT' | 'DELETE';
  readonly resource?: Resource;
  /** The patient record the version belongs to. */
  readonly patientId: string | null;
}

export interface UpdateResult {
  readonly resource: Resource;
  readonly created: boolean;
}

export interface Row {
  id: string;
  patient_id: string | null;
  version_id: number;
  last_updated: Date | string;
  deleted: boolean;
  method?: string;
  content: Resource | null;
  bytes: Uint8Array | null;
}

export const COLUMNS = 'id, version_id, last_updated, deleted, patient_id, content, bytes';
/** The same columns with the bytes left in the database (see `withDeferredBinaryBytes`). */
const COLUMNS_WITHOUT_BYTES = 'id, version_id, last_updated, deleted, patient_id, content, NULL::bytea AS bytes';

export interface RepoOptions {
  /** Binary reads (read, readVersion) leave the content in the database: the caller streams it (binary-content.ts). */
  readonly deferBinaryBytes?: boolean;
}

/**
 * Stores and reads FHIR resources: current table + history table + search index, per type.
 * Knows SQL, not access rules. Every write runs in one transaction.
 */
export class ResourceRepo {
  constructor(
    private readonly db: Database,
    private readonly tx?: Queryable,
    private readonly options: RepoOptions = {}
  ) {}

  /**
   * The same repository whose Binary reads come without `data` (and without loading the content):
   * for a Binary read answered with its own bytes, streamed from the database afterwards.
   */
  withDeferredBinaryBytes(): ResourceRepo {
    return new ResourceRepo(this.db, this.tx, { ...this.options, deferBinaryBytes: true });
  }

  private get q(): Queryable {
    return this.tx ?? this.db;
  }

  /** True when this repo is bound to an open transaction. */
  get inTransaction(): boolean {
    return this.tx !== undefined;
  }

  /** Runs fn in a transaction (joining the current one if this repo is already in one). */
  async transaction<T>(fn: (repo: ResourceRepo) => Promise<T>): Promise<T> {
    if (this.tx) {
      return fn(this);
    }
    return this.db.withTransaction((tx) => fn(new ResourceRepo(this.db, tx, this.options)));
  }

  /** Creates a resource with a server-assigned id (or the given one). */
  async create<T extends Resource>(type: SupportedType, resource: T, id: string = randomUUID()): Promise<T> {
    return this.transaction((repo) => repo.writeVersion(type, id, resource, 1, 'POST')) as Promise<T>;
  }

  /**
   * Creates several new resources of one type with one statement per table (the audit trail writes
   * the traces of concurrent requests this way). Ids must be new.
   */
  async createMany<T extends Resource>(type: SupportedType, items: readonly { id: string; resource: T }[]): Promise<T[]> {
    if (items.length === 0) {
      return [];
    }
    return this.transaction(async (repo) => {
      const lastUpdated = new Date();
      const q = new SqlParams();
      const stored: T[] = [];
      const tuples: string[] = [];
      const indexes: { id: string; rows: ReturnType<typeof indexResource> }[] = [];
      const patientIds: (string | null)[] = [];
      for (const { id, resource: input } of items) {
        const resource = withMeta(input, id, 1, lastUpdated);
        const { content, bytes } = splitBinary(type, resource);
        const patientId = await repo.compartmentOf(type, id, resource);
        tuples.push(`(${q.list([id, 1, lastUpdated.toISOString(), false, patientId, content, bytes])})`);
        patientIds.push(patientId);
        indexes.push({ id, rows: indexResource(type, resource) });
        stored.push(resource);
      }
      await repo.q.query(`INSERT INTO ${currentTable(type)} (id, version_id, last_updated, deleted, patient_id, content, bytes) VALUES ${tuples.join(', ')}`, q.values);
      const h = new SqlParams();
      const historyTuples = stored.map((r, i) => {
        const { content, bytes } = splitBinary(type, r);
        return `(${h.list([items[i].id, 1, lastUpdated.toISOString(), false, 'POST', patientIds[i], content, bytes])})`;
      });
      await repo.q.query(
        `INSERT INTO ${historyTable(type)} (id, version_id, last_updated, deleted, method, patient_id, content, bytes) VALUES ${historyTuples.join(', ')}`,
        h.values
      );
      await writeFreshIndexes(repo.q, type, indexes);
      return stored;
    });
  }

  /** Updates (or creates, when absent) the resource with this id; If-Match version checked when given. */
  async update(type: SupportedType, id: string, resource: Resource, ifMatch?: number): Promise<UpdateResult> {
    return this.transaction(async (repo) => {
      const current = await repo.lockCurrent(type, id);
      if (ifMatch !== undefined && (!current || current.deleted || current.version_id !== ifMatch)) {
        const actual = current && !current.deleted ? `W/"${current.version_id}"` : 'none (no current version)';
        throw new FhirError('PRECONDITION_FAILED', `If-Match W/"${ifMatch}" does not match the current version ${actual} of ${type}/${id}`, ['If-Match']);
      }
      const version = (current?.version_id ?? 0) + 1;
      const stored = await repo.writeVersion(type, id, resource, version, 'PUT');
      return { resource: stored, created: !current || current.deleted };
    });
  }

  /** Deletes a resource; returns false when there was nothing live to delete (delete is idempotent). */
  async delete(type: SupportedType, id: string): Promise<boolean> {
    return this.transaction(async (repo) => {
      const current = await repo.lockCurrent(type, id);
      if (!current || current.deleted) {
        return false;
      }
      const version = current.version_id + 1;
      const now = new Date().toISOString();
      await repo.q.query(
        `UPDATE ${currentTable(type)} SET version_id = $2, last_updated = $3, deleted = true, content = NULL, bytes = NULL WHERE id = $1`,
        [id, version, now]
      );
      await repo.q.query(
        `INSERT INTO ${historyTable(type)} (id, version_id, last_updated, deleted, method, patient_id) VALUES ($1, $2, $3, true, 'DELETE', $4)`,
        [id, version, now, current.patient_id]
      );
      await writeIndex(repo.q, type, id, undefined);
      return true;
    });
  }

  /** The current version of a resource (possibly a deletion), or undefined if it never existed. */
  async read(type: SupportedType, id: string): Promise<StoredVersion | undefined> {
    const { rows } = await this.q.query<Row>(`SELECT ${this.readColumns(type)} FROM ${currentTable(type)} WHERE id = $1`, [id]);
    return rows[0] ? toVersion(type, rows[0], 'PUT') : undefined;
  }

  /** One version of a resource, or undefined. */
  async readVersion(type: SupportedType, id: string, versionId: number): Promise<StoredVersion | undefined> {
    const { rows } = await this.q.query<Row>(
      `SELECT ${this.readColumns(type)}, method FROM ${historyTable(type)} WHERE id = $1 AND version_id = $2`,
      [id, versionId]
    );
    return rows[0] ? toVersion(type, rows[0]) : undefined;
  }

  /**
   * History, newest first: of one resource when id is given, of the whole type otherwise.
   * Keyset-paged on (last_updated, id, version_id) so pages stay stable while rows are added.
   */
  async history(
    type: SupportedType,
    opts: { id?: string; since?: Date; before?: { lastUpdated: string; id: string; versionId: number }; limit: number; filter: SecurityFilter }
  ): Promise<StoredVersion[]> {
    const q = new SqlParams();
    // The filter sees each version with the compartment it had (h.patient_id), so a token confined
    // to one patient never pages through another patient's versions.
    const where = [opts.filter.toSql(q, 'h')];
    if (opts.id) {
      where.push(`h.id = ${q.add(opts.id)}`);
    }
    if (opts.since) {
      where.push(`h.last_updated >= ${q.add(opts.since.toISOString())}::timestamptz`);
    }
    if (opts.before) {
      where.push(
        `(h.last_updated, h.id, h.version_id) < (${q.add(opts.before.lastUpdated)}::timestamptz, ${q.add(opts.before.id)}, ${q.add(opts.before.versionId)}::integer)`
      );
    }
    const { rows } = await this.q.query<Row>(
      `SELECT ${COLUMNS.split(', ').map((c) => 'h.' + c).join(', ')}, h.method FROM ${historyTable(type)} h WHERE ${where.map((w) => `(${w})`).join(' AND ')}
       ORDER BY h.last_updated DESC, h.id DESC, h.version_id DESC LIMIT ${q.add(opts.limit)}`,
      q.values
    );
    return rows.map((r) => toVersion(type, r));
  }

  /**
   * The patient record a resource belongs to (the shard key): from its search references, or for a
   * Binary from its securityContext (a Patient, or a resource of that patient).
   */
  async compartmentOf(type: SupportedType, id: string, resource: Resource): Promise<string | null> {
    if (type === 'Binary') {
      const ref = parseReference((resource as Binary).securityContext?.reference ?? '');
      if (!ref) {
        return null;
      }
      if (ref.type === 'Patient') {
        return ref.id;
      }
      if (!isSupportedType(ref.type)) {
        return null;
      }
      const { rows } = await this.q.query<{ patient_id: string | null }>(`SELECT patient_id FROM ${currentTable(ref.type)} WHERE id = $1`, [ref.id]);
      return rows[0]?.patient_id ?? null;
    }
    return patientIdOf(type, id, indexResource(type, resource));
  }

  /** True when the row with this id (live or deleted) passes the security filter. */
  async isVisible(type: SupportedType, id: string, filter: SecurityFilter): Promise<boolean> {
    if (filter.unrestricted) {
      return true;
    }
    const q = new SqlParams();
    const where = `r.id = ${q.add(id)} AND (${filter.toSql(q, 'r')})`;
    const { rows } = await this.q.query(`SELECT 1 FROM ${currentTable(type)} r WHERE ${where}`, q.values);
    return rows.length > 0;
  }

  /** Serialises writers on a key until the transaction ends (conditional create races). */
  async lockKey(key: string): Promise<void> {
    await this.q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [key]);
  }

  /** Raw query access for the search executor (same connection / transaction). */
  get queryable(): Queryable {
    return this.q;
  }

  private readColumns(type: SupportedType): string {
    return type === 'Binary' && this.options.deferBinaryBytes ? COLUMNS_WITHOUT_BYTES : COLUMNS;
  }

  private async lockCurrent(type: SupportedType, id: string): Promise<Row | undefined> {
    const { rows } = await this.q.query<Row>(
      `SELECT ${COLUMNS} FROM ${currentTable(type)} WHERE id = $1 FOR UPDATE`,
      [id]
    );
    return rows[0];
  }

  private async writeVersion(type: SupportedType, id: string, input: Resource, version: number, method: 'POST' | 'PUT'): Promise<Resource> {
    const lastUpdated = new Date();
    const resource = withMeta(input, id, version, lastUpdated);
    const { content, bytes } = splitBinary(type, resource);
    const index = indexResource(type, resource);
    const patientId = await this.compartmentOf(type, id, resource);
    const values = [id, version, lastUpdated.toISOString(), patientId, content, bytes];
    await this.q.query(
      `INSERT INTO ${currentTable(type)} (id, version_id, last_updated, deleted, patient_id, content, bytes)
       VALUES ($1, $2, $3, false, $4, $5, $6)
       ON CONFLICT (id) DO UPDATE SET version_id = $2, last_updated = $3, deleted = false, patient_id = $4, content = $5, bytes = $6`,
      values
    );
    await this.q.query(
      `INSERT INTO ${historyTable(type)} (id, version_id, last_updated, deleted, method, patient_id, content, bytes)
       VALUES ($1, $2, $3, false, '${method}', $4, $5, $6)`,
      values
    );
    await writeIndex(this.q, type, id, index, version === 1 && method === 'POST');
    return resource;
  }
}

function withMeta<T extends Resource>(resource: T, id: string, version: number, lastUpdated: Date): T {
  return {
    ...resource,
    id,
    meta: { ...(resource.meta ?? {}), versionId: String(version), lastUpdated: lastUpdated.toISOString() },
  };
}

/** Binary bytes live in their own column, not inside the JSON body. */
function splitBinary(type: SupportedType, resource: Resource): { content: Resource; bytes: Buffer | null } {
  if (type !== 'Binary') {
    return { content: resource, bytes: null };
  }
  const { data, ...rest } = resource as Binary;
  return { content: rest as Resource, bytes: data ? Buffer.from(data, 'base64') : null };
}

/** The resource body of a row, `resourceType`, `id` and `meta` first (jsonb does not keep key order). */
export function rowToResource(type: SupportedType, row: { content: Resource | null; bytes: Uint8Array | null }): Resource {
  const { resourceType, id, meta, ...rest } = row.content as Resource & Record<string, unknown>;
  const resource = { resourceType, id, meta, ...rest } as Resource;
  if (type === 'Binary' && row.bytes) {
    (resource as Binary).data = Buffer.from(row.bytes).toString('base64');
  }
  return resource;
}

function toVersion(type: SupportedType, row: Row, fallbackMethod?: StoredVersion['method']): StoredVersion {
  const lastUpdated = row.last_updated instanceof Date ? row.last_updated : new Date(row.last_updated);
  const resource = row.content ? rowToResource(type, row) : undefined;
  return {
    id: row.id,
    versionId: row.version_id,
    lastUpdated,
    deleted: row.deleted,
    method: (row.method as StoredVersion['method']) ?? fallbackMethod ?? 'PUT',
    resource,
    patientId: row.patient_id ?? null,
  };
}
