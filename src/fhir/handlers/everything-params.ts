import type { Parameters } from '@medplum/fhirtypes';
import { EVERYTHING_TYPES, isEverythingType, type EverythingType } from '../../policy/everything-filter.js';
import { FhirError } from '../outcomes.js';
import { isSupportedType } from '../resource-types.js';
import { parseDateRange } from '../search/date-range.js';
import { decodeCursor, parseCount, single } from '../search/request.js';
import type { FhirRequest, FhirSettings } from '../types.js';

/** Where a page of `$everything` starts: a type of the record, and the keyset cursor inside it (none: its first row). */
export interface EverythingPosition {
  readonly type: EverythingType;
  readonly keys?: readonly string[];
}

/** The parameters of `Patient/{id}/$everything` (FHIR R4 patient-operation-everything), checked. */
export interface EverythingParams {
  readonly count: number;
  /** `_since`: only resources last updated at or after this instant. */
  readonly since?: string;
  /** `_type`, in the server's order; every record type when absent. */
  readonly types: readonly EverythingType[];
  readonly position?: EverythingPosition;
  /** The parameters the paging links repeat (with `_count` as really applied). */
  readonly applied: [string, string][];
}

/** Parameters of the operation the server does not support (R4 `start` / `end`: the care date range). */
const UNSUPPORTED = new Set(['start', 'end']);
const KNOWN = new Set(['_count', '_since', '_type', '_cursor', '_format', '_pretty']);
const INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Reads the operation's parameters from the query string and, for POST, a `Parameters` body. */
export function everythingParams(req: FhirRequest, settings: FhirSettings): EverythingParams {
  const raw = mergedParameters(req);
  for (const name of Object.keys(raw)) {
    if (UNSUPPORTED.has(name)) {
      throw new FhirError('UNSUPPORTED_SEARCH_FEATURE', `$everything: the parameter "${name}" (care date range) is not supported; use _since or _type`, [name]);
    }
    if (!KNOWN.has(name)) {
      throw new FhirError('UNKNOWN_SEARCH_PARAM', `$everything: unknown parameter "${name}" (supported: _count, _since, _type)`, [name]);
    }
  }
  const count = parseCount(single(raw, '_count'), { defaultCount: settings.searchDefaultCount, maxCount: settings.searchMaxCount });
  const since = sinceOf(single(raw, '_since'));
  const types = typesOf(raw._type);
  const cursor = single(raw, '_cursor');
  const applied: [string, string][] = [
    ...(raw._type ? ([['_type', types.join(',')]] as [string, string][]) : []),
    ...(since ? ([['_since', since]] as [string, string][]) : []),
    ['_count', String(count)],
  ];
  return { count, since, types, position: cursor ? positionOf(cursor, types) : undefined, applied };
}

function mergedParameters(req: FhirRequest): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, values] of Object.entries(req.query)) {
    out[k] = [...values];
  }
  if (req.method !== 'POST' || req.body === undefined) {
    return out;
  }
  const body = req.body as Partial<Parameters>;
  if (body.resourceType !== 'Parameters') {
    throw new FhirError('WRONG_RESOURCE_TYPE', `POST $everything takes a Parameters resource (got ${String(body.resourceType ?? 'no resourceType')})`, ['resourceType']);
  }
  (body.parameter ?? []).forEach((p, i) => {
    const value = p.valueInteger ?? p.valueUnsignedInt ?? p.valuePositiveInt ?? p.valueInstant ?? p.valueDateTime ?? p.valueCode ?? p.valueString ?? p.valueDate;
    if (!p.name || value === undefined) {
      throw new FhirError('BAD_REQUEST', 'Each parameter of $everything needs a name and a value (valueInteger, valueInstant, valueCode or valueString)', [`Parameters.parameter[${i}]`]);
    }
    (out[p.name] ??= []).push(String(value));
  });
  return out;
}

function sinceOf(value: string | undefined): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (!INSTANT_RE.test(value) || !parseDateRange(value)) {
    throw new FhirError('INVALID_SEARCH_VALUE', `_since must be an instant with a time zone, e.g. 2024-05-31T10:00:00Z (got "${value}")`, ['_since']);
  }
  return value;
}

function typesOf(values: string[] | undefined): readonly EverythingType[] {
  if (!values) {
    return EVERYTHING_TYPES;
  }
  const asked = values.flatMap((v) => v.split(',')).map((t) => t.trim());
  for (const type of asked) {
    if (!isEverythingType(type)) {
      const why = isSupportedType(type) ? 'is not part of a patient record here' : 'is not a type this server serves';
      throw new FhirError('INVALID_SEARCH_VALUE', `_type: "${type}" ${why} (allowed: ${EVERYTHING_TYPES.join(', ')})`, ['_type']);
    }
  }
  return EVERYTHING_TYPES.filter((t) => asked.includes(t));
}

/** The cursor of a `next` link: the type reached and the keyset cursor inside it. */
function positionOf(value: string, types: readonly EverythingType[]): EverythingPosition {
  const cursor = decodeCursor(value);
  const [type, ...keys] = cursor.keys;
  if (cursor.dir !== 'after' || !types.includes(type as EverythingType)) {
    throw new FhirError('INVALID_PAGE_CURSOR', 'The paging cursor does not belong to this $everything; follow the Bundle links as given', ['_cursor']);
  }
  return { type: type as EverythingType, keys: keys.length > 0 ? keys : undefined };
}
