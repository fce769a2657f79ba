import { Operator, type Filter, type IncludeTarget } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { runSearch, type Cursor, type SearchPage, type SecurityFilters } from '../../repo/search.js';
import { assertReadable } from '../../policy/access.js';
import { assertDmpAccess } from '../../policy/dmp-gate.js';
import { everythingFilters, type EverythingType } from '../../policy/everything-filter.js';
import { ANONYMOUS } from '../../policy/principal.js';
import { requireScope } from '../../policy/scope-gate.js';
import { searchFilterFor, type SecurityFilter } from '../../policy/search-filter.js';
import { searchsetBundle } from '../bundle.js';
import { FhirError } from '../outcomes.js';
import { paramDef } from '../search/parameters.js';
import type { ParsedSearch } from '../search/request.js';
import type { SupportedType } from '../resource-types.js';
import type { FhirRequest, FhirResponse, HandlerContext, TouchedResource } from '../types.js';
import { everythingParams, type EverythingParams, type EverythingPosition } from './everything-params.js';

/** Directory types brought along as supporting resources (`search.mode = include`): the médecin traitant, authors, actors, agents. */
const DIRECTORY_TYPES: readonly SupportedType[] = ['Practitioner', 'PractitionerRole', 'Organization'];

/** The reference parameters whose directory targets each record type brings along. */
const SUPPORTING_REFERENCES: Partial<Record<EverythingType, readonly string[]>> = {
  Patient: ['general-practitioner', 'organization'],
  DocumentReference: ['author'],
  List: ['source'],
  Consent: ['actor'],
  AuditEvent: ['agent'],
};

/**
 * `GET|POST [base]/Patient/{id}/$everything` (FHIR R4 patient-operation-everything): the Patient
 * and every resource of its record the caller may see, type after type (Patient, DocumentReference,
 * Binary, List, Consent, RelatedPerson, AuditEvent), each through the same filters as a search of
 * that type by this patient, plus the Practitioners, PractitionerRoles and Organizations they
 * reference (as includes, not counted in `total`). Paged with keyset cursors that carry the type reached.
 */
export async function everythingHandler(ctx: HandlerContext, req: FhirRequest, type: SupportedType, id: string): Promise<FhirResponse> {
  if (type !== 'Patient') {
    throw new FhirError('UNKNOWN_ROUTE', '$everything is defined on Patient only');
  }
  requireScope(ctx.principal, 'Patient', 'r');
  const params = everythingParams(req, ctx.settings);
  await assertRecordReadable(ctx, id);
  const filters = await everythingFilters(ctx.principal, ctx.repo, ctx.policy, id, params.types);
  const types = params.types.filter((t) => filters.has(t));
  const security: SecurityFilters = (t) => filters.get(t as EverythingType) ?? supportingFilter(ctx, t);
  const since: Filter[] = params.since ? [{ code: '_lastUpdated', operator: Operator.GREATER_THAN_OR_EQUALS, value: params.since }] : [];
  const totals = new Map<EverythingType, number>();
  for (const t of types) {
    totals.set(t, await countOf(ctx, t, since, security));
  }
  const page = await collectPage(ctx, types.filter((t) => (totals.get(t) ?? 0) > 0), params, since, security);
  const total = [...totals.values()].reduce((a, b) => a + b, 0);
  const bundle = searchsetBundle(ctx.settings.fhirBase, `Patient/${id}/$everything`, linkShape(params), { ...page, total });
  return { status: 200, resource: bundle, touched: touchedOf(id, page) };
}

/** The record itself: 404 unknown, 410 deleted (to whom could read it), 403 with the reason when the caller may not read it. */
async function assertRecordReadable(ctx: HandlerContext, id: string): Promise<void> {
  const stored = await ctx.repo.read('Patient', id);
  if (!stored) {
    throw new FhirError('NOT_FOUND', `Patient/${id} does not exist`);
  }
  await assertReadable(ctx.principal, ctx.repo, 'Patient', id);
  if (stored.deleted) {
    const before = stored.versionId > 1 ? await ctx.repo.readVersion('Patient', id, stored.versionId - 1) : undefined;
    if (before?.resource) {
      await assertDmpAccess(ctx.principal, ctx.repo, ctx.policy, 'Patient', before.resource, 'read');
    }
    throw new FhirError('GONE', `Patient/${id} was deleted`);
  }
  await assertDmpAccess(ctx.principal, ctx.repo, ctx.policy, 'Patient', stored.resource as Resource, 'read');
}

/** Directory resources follow the caller's scopes (no DMP rule holds them); anything else is nobody's here. */
function supportingFilter(ctx: HandlerContext, type: SupportedType): SecurityFilter {
  return searchFilterFor(DIRECTORY_TYPES.includes(type) ? ctx.principal : ANONYMOUS, type, 'r');
}

async function countOf(ctx: HandlerContext, type: EverythingType, filters: Filter[], security: SecurityFilters): Promise<number> {
  const page = await runSearch(ctx.repo.queryable, { type, filters, sort: [], count: 0, total: true, include: [], revInclude: [] }, security);
  return page.total ?? 0;
}

/**
 * One page: from the position reached, the rows of each type in turn until `count` matches. The
 * `next` cursor names the type and, inside it, the keyset cursor of the last row returned.
 */
async function collectPage(
  ctx: HandlerContext,
  types: readonly EverythingType[],
  params: EverythingParams,
  since: Filter[],
  security: SecurityFilters
): Promise<Omit<SearchPage, 'total'>> {
  const matches: Resource[] = [];
  const included: Resource[] = [];
  const compartments = new Map<string, string | null>();
  let next: Cursor | undefined;
  const start = startOf(types, params);
  let remaining = params.count;
  for (let i = start.index; i < types.length && remaining > 0; i++) {
    const type = types[i];
    const keys = i === start.index ? start.keys : undefined;
    const page = await runSearch(
      ctx.repo.queryable,
      { type, filters: since, sort: [], count: remaining, cursor: keys ? { dir: 'after', keys } : undefined, total: false, include: includesOf(type), revInclude: [] },
      security
    );
    matches.push(...page.matches);
    included.push(...page.included.filter((r) => !included.some((o) => o.resourceType === r.resourceType && o.id === r.id)));
    page.compartments.forEach((patientId, ref) => compartments.set(ref, patientId));
    remaining -= page.matches.length;
    if (page.next) {
      next = { dir: 'after', keys: [type, ...page.next.keys] };
    } else if (remaining === 0 && i + 1 < types.length) {
      next = { dir: 'after', keys: [types[i + 1]] };
    }
  }
  return { matches, included, compartments, next };
}

/**
 * Where this page starts among the types with rows: the cursor's type, or (when it has no rows left
 * for this caller) the first later one, from its first row. Past the last type: `types.length`.
 */
function startOf(types: readonly EverythingType[], params: EverythingParams): { index: number; keys?: readonly string[] } {
  const position = params.position;
  if (!position) {
    return { index: 0 };
  }
  const reached = params.types.indexOf(position.type);
  const index = types.findIndex((t) => params.types.indexOf(t) >= reached);
  if (index < 0) {
    return { index: types.length };
  }
  return { index, keys: types[index] === position.type ? position.keys : undefined };
}

/** `_include` targets toward the directory types for one record type. */
function includesOf(type: EverythingType): IncludeTarget[] {
  return (SUPPORTING_REFERENCES[type] ?? []).flatMap((code) => {
    const targets = paramDef(type, code)?.targets ?? [];
    return DIRECTORY_TYPES.filter((d) => targets.length === 0 || targets.includes(d)).map((d) => ({ resourceType: type, searchParam: code, targetType: d }));
  });
}

/** What searchsetBundle needs to write the self and next links of this operation. */
function linkShape(params: EverythingParams): ParsedSearch {
  const position: EverythingPosition | undefined = params.position;
  const cursor: Cursor | undefined = position ? { dir: 'after', keys: [position.type, ...(position.keys ?? [])] } : undefined;
  return {
    query: { type: 'Patient', filters: [], sort: [], count: params.count, cursor, total: true, include: [], revInclude: [] },
    summaryCount: false,
    ignored: [],
    applied: params.applied,
  };
}

/** Everything returned belongs to (or supports) this record: one AuditEvent naming the patient. */
function touchedOf(patientId: string, page: Omit<SearchPage, 'total'>): TouchedResource[] {
  const refs = new Set([`Patient/${patientId}`, ...page.compartments.keys()]);
  return [...refs].map((ref) => ({ ref, patientId }));
}
