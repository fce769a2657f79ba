import type { Filter, IncludeTarget } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { FhirError } from '../fhir/outcomes.js';
import { currentTable, isSupportedType, type SupportedType } from '../fhir/resource-types.js';
import { MAX_DATE, MIN_DATE } from '../fhir/search/date-range.js';
import { paramDef } from '../fhir/search/parameters.js';
import type { SecurityFilter } from '../policy/search-filter.js';
import { COLUMNS, rowToResource, type Row } from './resource-repo.js';
import type { Queryable } from './pool.js';
import { filterPredicate } from './search-sql/filters.js';
import { and, SqlParams } from './sql.js';

/** A position in a result list: page after (or before) the row with these sort keys. */
export interface Cursor {
  readonly dir: 'after' | 'before';
  readonly keys: readonly string[];
}

export interface SortRule {
  readonly code: string;
  readonly descending: boolean;
}

/** A validated search, ready to run. */
export interface SearchQuery {
  readonly type: SupportedType;
  readonly filters: readonly Filter[];
  readonly sort: readonly SortRule[];
  readonly count: number;
  readonly cursor?: Cursor;
  readonly total: boolean;
  readonly include: readonly IncludeTarget[];
  readonly revInclude: readonly IncludeTarget[];
}

export interface SearchPage {
  readonly matches: Resource[];
  readonly included: Resource[];
  /** `Type/id` of every returned resource → the patient record it belongs to (for the audit trail). */
  readonly compartments: ReadonlyMap<string, string | null>;
  readonly total?: number;
  readonly next?: Cursor;
  readonly previous?: Cursor;
}

/** Gives the security filter of each type a search touches (matches and includes alike). */
export type SecurityFilters = (type: SupportedType) => SecurityFilter;

interface SortKey {
  readonly expr: string;
  readonly descending: boolean;
  readonly kind: 'timestamptz' | 'text';
}

/** Runs a search: keyset-paged matches, optional total, then _include / _revinclude. */
export async function runSearch(db: Queryable, query: SearchQuery, security: SecurityFilters): Promise<SearchPage> {
  const q = new SqlParams();
  const where = whereClause(q, query.type, query.filters, security(query.type));
  const keys = sortKeys(q, query);
  const total = query.total ? await countMatches(db, query, security) : undefined;
  if (query.count === 0) {
    return { matches: [], included: [], total, compartments: new Map() };
  }
  const selectKeys = keys.map((k, i) => `${k.expr} AS k${i}`).join(', ');
  const reverse = query.cursor?.dir === 'before';
  const keyset = query.cursor ? keysetPredicate(q, keys, query.cursor) : 'TRUE';
  const order = keys.map((k, i) => `k${i} ${k.descending !== reverse ? 'DESC' : 'ASC'}`).join(', ');
  const sql = `SELECT * FROM (SELECT ${COLUMNS.split(', ').map((c) => 'r.' + c).join(', ')}, ${selectKeys}
      FROM ${currentTable(query.type)} r WHERE ${where}) s
    WHERE ${keyset} ORDER BY ${order} LIMIT ${q.add(query.count + 1)}`;
  const { rows } = await db.query<Row & Record<string, unknown>>(sql, q.values);
  const more = rows.length > query.count;
  const page = rows.slice(0, query.count);
  if (reverse) {
    page.reverse();
  }
  const cursorOf = (row: Record<string, unknown>, dir: Cursor['dir']): Cursor => ({
    dir,
    keys: keys.map((k, i) => keyToString(row[`k${i}`])),
  });
  const first = page[0];
  const last = page[page.length - 1];
  const hasNext = reverse ? page.length > 0 : more;
  const hasPrevious = reverse ? more : query.cursor !== undefined && page.length > 0;
  const compartments = new Map<string, string | null>(page.map((r) => [`${query.type}/${r.id}`, r.patient_id ?? null]));
  const matches = page.map((r) => rowToResource(query.type, r));
  const included = await loadIncludes(db, query, page.map((r) => r.id), security, matches, compartments);
  return {
    matches,
    included,
    total,
    compartments,
    next: hasNext && last ? cursorOf(last, 'after') : undefined,
    previous: hasPrevious && first ? cursorOf(first, 'before') : undefined,
  };
}

function whereClause(q: SqlParams, type: SupportedType, filters: readonly Filter[], security: SecurityFilter): string {
  const target = { type, idExpr: 'r.id', alias: 'r' };
  return and(['r.deleted = false', security.toSql(q, 'r'), ...filters.map((f) => filterPredicate(q, target, f))]);
}

async function countMatches(db: Queryable, query: SearchQuery, security: SecurityFilters): Promise<number> {
  const q = new SqlParams();
  const where = whereClause(q, query.type, query.filters, security(query.type));
  const { rows } = await db.query<{ n: number | string }>(`SELECT count(*) AS n FROM ${currentTable(query.type)} r WHERE ${where}`, q.values);
  return Number(rows[0].n);
}

/** Sort keys: the requested ones, then `id` as the tie-breaker that makes keyset paging exact. */
function sortKeys(q: SqlParams, query: SearchQuery): SortKey[] {
  // Default order: oldest write first, so rows added while a client pages arrive on later pages.
  const rules = query.sort.length > 0 ? query.sort : [{ code: '_lastUpdated', descending: false }];
  const keys = rules.map((rule) => sortKey(q, query.type, rule));
  if (!query.sort.some((r) => r.code === '_id')) {
    keys.push({ expr: 'r.id', descending: false, kind: 'text' });
  }
  return keys;
}

function sortKey(q: SqlParams, type: SupportedType, rule: SortRule): SortKey {
  if (rule.code === '_lastUpdated') {
    return { expr: 'r.last_updated', descending: rule.descending, kind: 'timestamptz' };
  }
  if (rule.code === '_id') {
    return { expr: 'r.id', descending: rule.descending, kind: 'text' };
  }
  const def = paramDef(type, rule.code);
  if (!def || def.type !== 'date') {
    throw new FhirError('UNSUPPORTED_SEARCH_FEATURE', `Sorting is supported on _id, _lastUpdated and date parameters; "${rule.code}" is not one of them for ${type}`, ['_sort']);
  }
  // Resources without a value sort last in both directions.
  const missing = (rule.descending ? MIN_DATE : MAX_DATE).toISOString();
  return {
    expr: `COALESCE((SELECT min(d.lo) FROM sp_date d WHERE d.res_type = ${q.add(type)} AND d.res_id = r.id AND d.code = ${q.add(rule.code)}), ${q.add(missing)}::timestamptz)`,
    descending: rule.descending,
    kind: 'timestamptz',
  };
}

/** True for a timestamp in the form keyToString writes (Date.toISOString), and a real instant. */
function isIsoInstant(value: string): boolean {
  const date = new Date(value);
  return !Number.isNaN(date.getTime()) && date.toISOString() === value;
}

/** Rows strictly after (or before) the cursor in the sort order. */
function keysetPredicate(q: SqlParams, keys: SortKey[], cursor: Cursor): string {
  if (cursor.keys.length !== keys.length) {
    throw new FhirError('INVALID_PAGE_CURSOR', 'The paging cursor does not belong to this search; follow the Bundle links as given', ['_cursor']);
  }
  // The cursor comes from the client: a key that is no instant would fail the ::timestamptz cast (500).
  if (keys.some((k, i) => k.kind === 'timestamptz' && !isIsoInstant(cursor.keys[i]))) {
    throw new FhirError('INVALID_PAGE_CURSOR', 'The paging cursor is not one this server wrote; follow the Bundle links as given', ['_cursor']);
  }
  const values = keys.map((k, i) => `${q.add(cursor.keys[i])}::${k.kind}`);
  const branches = keys.map((k, i) => {
    const forward = k.descending ? '<' : '>';
    const backward = k.descending ? '>' : '<';
    const equal = keys.slice(0, i).map((_, j) => `s.k${j} = ${values[j]}`);
    return and([...equal, `s.k${i} ${cursor.dir === 'after' ? forward : backward} ${values[i]}`]);
  });
  return branches.map((b) => `(${b})`).join(' OR ');
}

function keyToString(v: unknown): string {
  return v instanceof Date ? v.toISOString() : String(v);
}

async function loadIncludes(
  db: Queryable,
  query: SearchQuery,
  pageIds: string[],
  security: SecurityFilters,
  matches: Resource[],
  compartments: Map<string, string | null>
): Promise<Resource[]> {
  if (pageIds.length === 0) {
    return [];
  }
  const seen = new Set(matches.map((r) => `${r.resourceType}/${r.id}`));
  const out: Resource[] = [];
  const add = (resources: Resource[]): void => {
    for (const r of resources) {
      const key = `${r.resourceType}/${r.id}`;
      if (!seen.has(key)) {
        seen.add(key);
        out.push(r);
      }
    }
  };
  for (const inc of query.include) {
    const targets = await includeTargets(db, query.type, inc, pageIds);
    for (const [type, ids] of targets) {
      add(await readLive(db, type, ids, security(type), compartments));
    }
  }
  for (const rev of query.revInclude) {
    const revType = rev.resourceType as SupportedType;
    add(await readLive(db, revType, await revIncludeIds(db, query.type, rev, pageIds), security(revType), compartments));
  }
  return out;
}

async function includeTargets(db: Queryable, type: SupportedType, inc: IncludeTarget, ids: string[]): Promise<Map<SupportedType, string[]>> {
  const q = new SqlParams();
  let sql = `SELECT DISTINCT target_type, target_id FROM sp_reference WHERE res_type = ${q.add(type)} AND code = ${q.add(inc.searchParam)}
    AND target_id IS NOT NULL AND res_id IN (${q.list(ids)})`;
  if (inc.targetType) {
    sql += ` AND target_type = ${q.add(inc.targetType)}`;
  }
  const { rows } = await db.query<{ target_type: string; target_id: string }>(sql, q.values);
  const byType = new Map<SupportedType, string[]>();
  for (const row of rows) {
    if (isSupportedType(row.target_type)) {
      byType.set(row.target_type, [...(byType.get(row.target_type) ?? []), row.target_id]);
    }
  }
  return byType;
}

async function revIncludeIds(db: Queryable, type: SupportedType, rev: IncludeTarget, ids: string[]): Promise<string[]> {
  const q = new SqlParams();
  const { rows } = await db.query<{ res_id: string }>(
    `SELECT DISTINCT res_id FROM sp_reference WHERE res_type = ${q.add(rev.resourceType)} AND code = ${q.add(rev.searchParam)}
      AND target_type = ${q.add(type)} AND target_id IN (${q.list(ids)})`,
    q.values
  );
  return rows.map((r) => r.res_id);
}

/** Live resources of a type by id, through the type's security filter. */
async function readLive(db: Queryable, type: SupportedType, ids: string[], security: SecurityFilter, compartments: Map<string, string | null>): Promise<Resource[]> {
  if (ids.length === 0) {
    return [];
  }
  const q = new SqlParams();
  const where = and(['r.deleted = false', `r.id IN (${q.list(ids)})`, security.toSql(q, 'r')]);
  const { rows } = await db.query<Row>(`SELECT ${COLUMNS.split(', ').map((c) => 'r.' + c).join(', ')} FROM ${currentTable(type)} r WHERE ${where}`, q.values);
  for (const row of rows) {
    compartments.set(`${type}/${row.id}`, row.patient_id ?? null);
  }
  return rows.map((row) => rowToResource(type, row));
}
