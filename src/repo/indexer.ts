import { evalFhirPathTyped, toTypedValue, type TypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { parseDateRange, MAX_DATE, MIN_DATE, type DateRange } from '../fhir/search/date-range.js';
import { foldString } from '../fhir/search/fold.js';
import { paramDefs, type ParamDef } from '../fhir/search/parameters.js';
import { parseReference } from '../fhir/references.js';
import type { SupportedType } from '../fhir/resource-types.js';

export interface TokenRow { code: string; system: string | null; value: string | null }
export interface StringRow { code: string; value: string; folded: string }
export interface DateRow { code: string; lo: Date; hi: Date }
export interface ReferenceRow { code: string; targetType: string | null; targetId: string | null; reference: string }

/** The search index entries of one resource, one list per parameter type. */
export interface IndexRows {
  token: TokenRow[];
  string: StringRow[];
  date: DateRow[];
  reference: ReferenceRow[];
}

/** Computes the index rows of a resource for every supported search parameter of its type. */
export function indexResource(type: SupportedType, resource: Resource): IndexRows {
  const rows: IndexRows = { token: [], string: [], date: [], reference: [] };
  const input = [toTypedValue(resource)];
  for (const def of paramDefs(type)) {
    for (const tv of evalFhirPathTyped(def.atom, input)) {
      addValue(rows, def, tv);
    }
  }
  return rows;
}

function addValue(rows: IndexRows, def: ParamDef, tv: TypedValue): void {
  switch (def.type) {
    case 'token':
      rows.token.push(...tokensOf(tv).map((t) => ({ code: def.code, ...t })));
      break;
    case 'string':
      for (const s of stringsOf(tv)) {
        rows.string.push({ code: def.code, value: s, folded: foldString(s) });
      }
      break;
    case 'date': {
      const range = dateRangeOf(tv);
      if (range) {
        rows.date.push({ code: def.code, lo: range.lo, hi: range.hi });
      }
      break;
    }
    case 'reference': {
      const reference = (tv.value as { reference?: string })?.reference ?? (typeof tv.value === 'string' ? tv.value : undefined);
      if (reference) {
        const ref = parseReference(reference);
        rows.reference.push({ code: def.code, targetType: ref?.type ?? null, targetId: ref?.id ?? null, reference });
      }
      break;
    }
  }
}

type Token = { system: string | null; value: string | null };

function tokensOf(tv: TypedValue): Token[] {
  const v = tv.value as Record<string, unknown> | string | boolean;
  switch (tv.type) {
    case 'Identifier':
      return [{ system: str((v as Record<string, unknown>).system), value: str((v as Record<string, unknown>).value) }];
    case 'Coding':
      return [codingToken(v as Record<string, unknown>)];
    case 'CodeableConcept':
      return (((v as Record<string, unknown>).coding as Record<string, unknown>[]) ?? []).map(codingToken);
    case 'ContactPoint':
      return [{ system: str((v as Record<string, unknown>).system), value: str((v as Record<string, unknown>).value) }];
    default:
      return typeof v === 'string' || typeof v === 'boolean' ? [{ system: null, value: String(v) }] : [];
  }
}

function codingToken(c: Record<string, unknown>): Token {
  return { system: str(c.system), value: str(c.code) };
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function stringsOf(tv: TypedValue): string[] {
  const v = tv.value;
  if (typeof v === 'string') {
    return [v];
  }
  if (tv.type === 'HumanName' && v) {
    const n = v as { family?: string; given?: string[]; prefix?: string[]; suffix?: string[]; text?: string };
    return [n.family, ...(n.given ?? []), ...(n.prefix ?? []), ...(n.suffix ?? []), n.text].filter(
      (s): s is string => typeof s === 'string'
    );
  }
  if (tv.type === 'Address' && v) {
    const a = v as { line?: string[]; city?: string; postalCode?: string; country?: string; text?: string };
    return [...(a.line ?? []), a.city, a.postalCode, a.country, a.text].filter((s): s is string => typeof s === 'string');
  }
  return [];
}

function dateRangeOf(tv: TypedValue): DateRange | undefined {
  if (typeof tv.value === 'string') {
    return parseDateRange(tv.value);
  }
  if (tv.type === 'Period' && tv.value) {
    const p = tv.value as { start?: string; end?: string };
    const start = p.start ? parseDateRange(p.start) : undefined;
    const end = p.end ? parseDateRange(p.end) : undefined;
    if (!start && !end) {
      return undefined;
    }
    return { lo: start?.lo ?? MIN_DATE, hi: end?.hi ?? MAX_DATE };
  }
  return undefined;
}

/** The patient compartment a resource belongs to (the shard key), if any. */
export function patientIdOf(type: SupportedType, id: string, rows: IndexRows): string | null {
  if (type === 'Patient') {
    return id;
  }
  const ref = rows.reference.find((r) => r.code === 'patient' && r.targetType === 'Patient') ??
    rows.reference.find((r) => r.targetType === 'Patient');
  return ref?.targetId ?? null;
}
