import { OperationOutcomeError, parseSearchRequest, type Filter, type IncludeTarget, type Operator } from '@medplum/core';
import { FhirError } from '../outcomes.js';
import { isSupportedType, type SupportedType } from '../resource-types.js';
import type { Cursor, SearchQuery } from '../../repo/search.js';
import { COMMON_PARAMS, paramDef, SUPPORTED_SEARCH_PARAMS } from './parameters.js';

/** Result and control parameters handled here rather than as filters. */
const CONTROL_PARAMS = new Set([
  '_count',
  '_sort',
  '_total',
  '_summary',
  '_elements',
  '_include',
  '_revinclude',
  '_cursor',
  '_format',
  '_pretty',
]);

/** Parameters that never reach the self link (they do not change the result set). */
const TRANSPORT_PARAMS = new Set(['_format', '_pretty', '_cursor']);

export interface ParsedSearch {
  readonly query: SearchQuery;
  /** True for `_summary=count`: total only, no entries. */
  readonly summaryCount: boolean;
  readonly elements?: string[];
  /** Parameters ignored under `Prefer: handling=lenient`. */
  readonly ignored: string[];
  /** The applied parameters, in request order, for the self / next / previous links. */
  readonly applied: [string, string][];
}

export interface SearchOptions {
  readonly lenient: boolean;
  readonly defaultCount: number;
  readonly maxCount: number;
}

/** Validates and parses a search query string into a SearchQuery (FHIR R4 search.html). */
export function parseSearch(type: SupportedType, raw: Readonly<Record<string, string[]>>, opts: SearchOptions): ParsedSearch {
  const ignored: string[] = [];
  const applied: [string, string][] = [];
  const kept: Record<string, string[]> = {};
  for (const [key, values] of Object.entries(raw)) {
    if (!CONTROL_PARAMS.has(key.split(':')[0]) && !isKnownFilter(type, key)) {
      if (!opts.lenient) {
        throw new FhirError('UNKNOWN_SEARCH_PARAM', `Unknown or unsupported search parameter "${key}" for ${type}. Supported: ${supportedList(type)}`, [key]);
      }
      ignored.push(key);
      continue;
    }
    if (!CONTROL_PARAMS.has(key.split(':')[0])) {
      checkModifier(type, key);
    }
    kept[key] = values;
    if (!TRANSPORT_PARAMS.has(key)) {
      values.forEach((v) => applied.push([key, v]));
    }
  }
  const summary = single(kept, '_summary');
  if (summary !== undefined && summary !== 'count' && summary !== 'false') {
    throw new FhirError('UNSUPPORTED_SEARCH_FEATURE', `_summary=${summary} is not supported (supported: count, false)`, ['_summary']);
  }
  const totalMode = single(kept, '_total') ?? 'accurate';
  if (!['none', 'estimate', 'accurate'].includes(totalMode)) {
    throw new FhirError('INVALID_SEARCH_VALUE', `_total must be none, estimate or accurate (got "${totalMode}")`, ['_total']);
  }
  const count = parseCount(single(kept, '_count'), opts);
  const medplumQuery = Object.fromEntries(
    Object.entries(kept).filter(([k]) => !['_count', '_summary', '_total', '_cursor'].includes(k))
  );
  const typed = typeModifiedFilters(type, medplumQuery);
  const parsed = parseMedplum(type, medplumQuery);
  for (const inc of parsed.include ?? []) {
    checkInclude(type, inc, false);
  }
  for (const rev of parsed.revInclude ?? []) {
    checkInclude(type, rev, true);
  }
  const summaryCount = summary === 'count';
  const cursorValue = single(kept, '_cursor');
  return {
    query: {
      type,
      filters: [...(parsed.filters ?? []), ...typed],
      sort: (parsed.sortRules ?? []).map((r) => ({ code: r.code, descending: !!r.descending })),
      count: summaryCount ? 0 : count,
      cursor: cursorValue ? decodeCursor(cursorValue) : undefined,
      total: summaryCount || totalMode !== 'none',
      include: parsed.include ?? [],
      revInclude: parsed.revInclude ?? [],
    },
    summaryCount,
    elements: parsed.fields,
    ignored,
    // The links show the page size really used (a capped _count included).
    applied: applied.map(([k, v]): [string, string] => (k === '_count' ? [k, String(count)] : [k, v])),
  };
}

/**
 * `ref:Type=value` filters, taken out of the query: @medplum/core drops the type modifier, so they
 * are kept here with the type as operator (what filterPredicate reads as a type modifier).
 */
function typeModifiedFilters(type: SupportedType, query: Record<string, string[]>): Filter[] {
  const out: Filter[] = [];
  for (const [key, values] of Object.entries(query)) {
    const m = /^([^:.]+):([A-Z][A-Za-z]+)$/.exec(key);
    if (m && paramDef(type, m[1])?.type === 'reference') {
      delete query[key];
      out.push(...values.map((value) => ({ code: m[1], operator: m[2] as Operator, value })));
    }
  }
  return out;
}

/** @medplum/core's parser, whose rejections (e.g. a malformed date) are the client's input errors. */
function parseMedplum(type: SupportedType, query: Record<string, string[]>): ReturnType<typeof parseSearchRequest> {
  try {
    return parseSearchRequest(type, query);
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      throw new FhirError('INVALID_SEARCH_VALUE', err.outcome.issue?.[0]?.details?.text ?? err.message);
    }
    throw err;
  }
}

/** The one value of a parameter that may be given once (400 when repeated). */
export function single(query: Record<string, string[]>, key: string): string | undefined {
  const values = query[key];
  if (values && values.length > 1) {
    throw new FhirError('INVALID_SEARCH_VALUE', `${key} may be given only once`, [key]);
  }
  return values?.[0];
}

/** `_count`: a non-negative integer, capped at the maximum; the default when absent. */
export function parseCount(value: string | undefined, opts: Pick<SearchOptions, 'defaultCount' | 'maxCount'>): number {
  if (value === undefined) {
    return opts.defaultCount;
  }
  if (!/^\d+$/.test(value)) {
    throw new FhirError('INVALID_SEARCH_VALUE', `_count must be a non-negative integer (got "${value}")`, ['_count']);
  }
  return Math.min(Number(value), opts.maxCount);
}

/** Modifiers @medplum/core keeps as the filter operator (the translators then accept or refuse them). */
const MODIFIERS = new Set(['missing', 'not', 'exact', 'contains', 'text', 'in', 'not-in', 'below', 'above', 'of-type', 'identifier']);

/** @medplum/core silently drops any other modifier (`gender:foo=x` would search `gender=x`), so those are refused here. */
function checkModifier(type: SupportedType, key: string): void {
  const [code, ...modifiers] = key.split('.')[0].split(':');
  if (modifiers.length === 0) {
    return;
  }
  const isTypeModifier = /^[A-Z][A-Za-z]+$/.test(modifiers[0]) && paramDef(type, code)?.type === 'reference';
  if (modifiers.length > 1 || !(MODIFIERS.has(modifiers[0]) || isTypeModifier)) {
    throw new FhirError('UNSUPPORTED_SEARCH_FEATURE', `Modifier ":${modifiers.join(':')}" is not supported on search parameter "${code}"`, [key]);
  }
}

/** True when the key names a supported filter: `_id`, `_lastUpdated`, a supported param, or a chain on a reference. */
function isKnownFilter(type: SupportedType, key: string): boolean {
  const head = key.split('.')[0];
  const code = head.split(':')[0];
  if ((COMMON_PARAMS as readonly string[]).includes(code)) {
    return !key.includes('.');
  }
  const def = paramDef(type, code);
  if (!def) {
    return false;
  }
  return !key.includes('.') || def.type === 'reference';
}

function checkInclude(type: SupportedType, inc: IncludeTarget, reverse: boolean): void {
  const name = reverse ? '_revinclude' : '_include';
  const source = reverse ? inc.resourceType : type;
  if (inc.modifier === 'iterate') {
    throw new FhirError('UNSUPPORTED_SEARCH_FEATURE', `${name}:iterate is not supported`, [name]);
  }
  if (!reverse && inc.resourceType !== type) {
    throw new FhirError('INVALID_SEARCH_VALUE', `_include must start with the searched type ${type} (got "${inc.resourceType}")`, [name]);
  }
  if (!isSupportedType(source) || paramDef(source, inc.searchParam)?.type !== 'reference') {
    throw new FhirError('INVALID_SEARCH_VALUE', `${name}=${inc.resourceType}:${inc.searchParam} does not name a reference parameter of ${source}`, [name]);
  }
  if (inc.targetType && !isSupportedType(inc.targetType)) {
    throw new FhirError('INVALID_SEARCH_VALUE', `${name} target type "${inc.targetType}" is not served here`, [name]);
  }
}

function supportedList(type: SupportedType): string {
  return [...COMMON_PARAMS, ...SUPPORTED_SEARCH_PARAMS[type]].join(', ');
}

/** Cursors are opaque to clients: base64url JSON of the sort keys of the row they follow. */
export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.dir === 'after' ? 'a' : 'b', ...cursor.keys])).toString('base64url');
}

export function decodeCursor(value: string): Cursor {
  try {
    const parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(parsed) && (parsed[0] === 'a' || parsed[0] === 'b') && parsed.slice(1).every((k) => typeof k === 'string')) {
      return { dir: parsed[0] === 'a' ? 'after' : 'before', keys: parsed.slice(1) as string[] };
    }
  } catch {
    // fall through to the error below
  }
  throw new FhirError('INVALID_PAGE_CURSOR', 'Invalid _cursor: follow the Bundle paging links as given', ['_cursor']);
}
