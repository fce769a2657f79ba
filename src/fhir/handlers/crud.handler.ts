import { randomUUID } from 'node:crypto';
import type { DocumentReference, Patient, Resource } from '@medplum/fhirtypes';
import { FhirError, informational } from '../outcomes.js';
import { parseSearch } from '../search/request.js';
import type { SupportedType } from '../resource-types.js';
import type { FhirRequest, FhirResponse, HandlerContext } from '../types.js';
import { runSearch } from '../../repo/search.js';
import { searchFilterFor } from '../../policy/search-filter.js';
import { assertReadable, assertWritable } from '../../policy/access.js';
import { assertDmpAccess, combineFilters, dmpLookupFilter, requireOpeningConsent } from '../../policy/dmp-gate.js';
import { assertInsFree } from '../../dmp/dmp-registry.js';
import { assertNotWithdrawn, withdrawDocument } from '../../mhd/withdrawal.js';
import { checkedPublication, hasInlineContent, replacesOthers, splitInlineContent, supersedeReplaced } from '../../mhd/publication.js';
import { canonicalJson } from '../../audit/audit-writer.js';
import { assertClientWritable, prepareWrite } from './write-input.js';

/** The response for a stored resource: body, version headers, and Location on creation. */
export function resourceResponse(resource: Resource, status: number): FhirResponse {
  const versionId = resource.meta?.versionId;
  return {
    status,
    resource,
    versionId,
    lastUpdated: resource.meta?.lastUpdated,
    location: status === 201 ? `${resource.resourceType}/${resource.id}/_history/${versionId}` : undefined,
    preferApplies: true,
  };
}

/** read (FHIR R4 http.html#read): 404 unknown, 410 deleted, 304 on a matching If-None-Match. */
export async function readHandler(ctx: HandlerContext, req: FhirRequest, type: SupportedType, id: string): Promise<FhirResponse> {
  const stored = await ctx.repo.read(type, id);
  if (!stored) {
    throw new FhirError('NOT_FOUND', `${type}/${id} does not exist`);
  }
  await assertReadable(ctx.principal, ctx.repo, type, id);
  if (stored.deleted) {
    await assertDeletionVisible(ctx, type, id, stored.versionId);
    throw new FhirError('GONE', `${type}/${id} was deleted`);
  }
  await assertDmpAccess(ctx.principal, ctx.repo, ctx.policy, type, stored.resource as Resource, 'read');
  if (req.headers.ifNoneMatch && parseEtag(req.headers.ifNoneMatch) === stored.versionId) {
    return { status: 304, versionId: String(stored.versionId), lastUpdated: stored.lastUpdated.toISOString() };
  }
  return { ...resourceResponse(stored.resource as Resource, 200), preferApplies: false };
}

/** vread: one version; 410 when that version is a deletion. */
export async function vreadHandler(ctx: HandlerContext, type: SupportedType, id: string, vid: string): Promise<FhirResponse> {
  const version = /^\d+$/.test(vid) ? await ctx.repo.readVersion(type, id, Number(vid)) : undefined;
  if (!version) {
    throw new FhirError('NOT_FOUND', `${type}/${id} has no version "${vid}"`);
  }
  await assertReadable(ctx.principal, ctx.repo, type, id);
  await assertNotWithdrawn(ctx.repo, type, id, (v) => assertDeletionVisible(ctx, type, id, v));
  if (version.deleted) {
    await assertDeletionVisible(ctx, type, id, version.versionId);
    throw new FhirError('GONE', `Version ${vid} of ${type}/${id} is a deletion`);
  }
  await assertDmpAccess(ctx.principal, ctx.repo, ctx.policy, type, version.resource as Resource, 'read');
  // An older version passes the rules as the resource stands now too: a document masked (or retyped)
  // since must not be read through its earlier versions.
  const current = await ctx.repo.read(type, id);
  if (current?.resource && !current.deleted && current.versionId !== version.versionId) {
    await assertDmpAccess(ctx.principal, ctx.repo, ctx.policy, type, current.resource, 'read');
  }
  return { ...resourceResponse(version.resource as Resource, 200), preferApplies: false };
}

/**
 * A deletion of DMP data answers 410 only to whom its last content was readable: for others the
 * DMP refusal stands (a hidden document stays absent, a refused record stays refused).
 */
export async function assertDeletionVisible(ctx: HandlerContext, type: SupportedType, id: string, deletedVersion: number): Promise<void> {
  const before = deletedVersion > 1 ? await ctx.repo.readVersion(type, id, deletedVersion - 1) : undefined;
  if (before?.resource && !before.deleted) {
    await assertDmpAccess(ctx.principal, ctx.repo, ctx.policy, type, before.resource, 'read');
  }
}

/**
 * create, and conditional create with If-None-Exist (0 match: create; 1: 200 with it; more: 412).
 * `id` is for transactions, which assign the ids of their POST entries up front.
 */
export async function createHandler(ctx: HandlerContext, req: FhirRequest, type: SupportedType, id?: string): Promise<FhirResponse> {
  let resource = withServerAttachmentUrls(prepareWrite(type, req.body), ctx.settings.fhirBase);
  if (type === 'DocumentReference') {
    // Subject by INS resolved, ITI-105 inline content checked, before anything is decided on it.
    resource = await checkedPublication(ctx.repo, resource as DocumentReference);
  }
  await assertWritable(ctx.principal, ctx.repo, type, 'c', { resource });
  await assertDmpAccess(ctx.principal, ctx.repo, ctx.policy, type, resource, 'create');
  if (type === 'Patient' && ctx.policy) {
    requireOpeningConsent(ctx.principal, ctx.beforeCommit, id);
  }
  const criteria = req.headers.ifNoneExist;
  if (!criteria && !writesMore(type, resource)) {
    return resourceResponse(await ctx.repo.create(type, resource, id), 201);
  }
  return ctx.repo.transaction(async (repo) => {
    if (criteria) {
      await repo.lockKey(`${type}?${criteria}`);
      const existing = await findByCriteria({ ...ctx, repo }, type, criteria);
      if (existing.length > 1) {
        throw new FhirError('CONDITIONAL_NOT_SELECTIVE', `If-None-Exist "${criteria}" matches ${existing.length} ${type} resources`, ['If-None-Exist']);
      }
      if (existing.length === 1) {
        return resourceResponse(existing[0], 200);
      }
    }
    return resourceResponse(await storeNew({ ...ctx, repo }, type, resource, id), 201);
  });
}

/** A create that checks or writes more than its own row (so it runs in a transaction). */
function writesMore(type: SupportedType, resource: Resource): boolean {
  return type === 'Patient' || (type === 'DocumentReference' && (hasInlineContent(resource as DocumentReference) || replacesOthers(resource as DocumentReference)));
}

/**
 * Writes a new resource in the context's transaction: one DMP per INS for a Patient; for a
 * DocumentReference, its inline contents become Binaries and the documents it replaces are superseded.
 */
async function storeNew(ctx: HandlerContext, type: SupportedType, resource: Resource, id: string = randomUUID()): Promise<Resource> {
  if (type === 'Patient') {
    await assertInsFree(ctx.repo, resource as Patient);
    return ctx.repo.create(type, resource, id);
  }
  if (type !== 'DocumentReference') {
    return ctx.repo.create(type, resource, id);
  }
  const { doc, binaries } = splitInlineContent(resource as DocumentReference, id, ctx.settings.fhirBase);
  const created = await ctx.repo.create(type, doc, id);
  for (const binary of binaries) {
    await ctx.repo.create('Binary', binary.resource, binary.id);
  }
  await supersedeReplaced(ctx, ctx.repo, doc);
  return created;
}

/** Resources of a type matching a search query string (conditional interactions); at most 2 returned. */
export async function findByCriteria(ctx: HandlerContext, type: SupportedType, criteria: string): Promise<Resource[]> {
  const params = new URLSearchParams(criteria.startsWith('?') ? criteria.slice(1) : criteria);
  const query: Record<string, string[]> = {};
  for (const [k, v] of params) {
    (query[k] ??= []).push(v);
  }
  if (Object.keys(query).length === 0) {
    throw new FhirError('BAD_REQUEST', 'Conditional criteria must not be empty', ['If-None-Exist']);
  }
  const search = parseSearch(type, query, { lenient: false, defaultCount: 2, maxCount: 2 });
  // The lookup sees what the caller could read: a match hidden by the DMP rules behaves as absent.
  const dmp = await dmpLookupFilter(ctx.principal, ctx.repo, ctx.policy, type, search.query.filters);
  const page = await runSearch(ctx.repo.queryable, { ...search.query, count: 2, total: false, include: [], revInclude: [] }, (t) =>
    combineFilters(searchFilterFor(ctx.principal, t, t === type ? 's' : 'r'), t === type ? dmp : undefined)
  );
  return page.matches;
}

/** update (PUT): 200 updated, 201 created (client-assigned id), 412 on a stale If-Match. */
export async function updateHandler(ctx: HandlerContext, req: FhirRequest, type: SupportedType, id: string): Promise<FhirResponse> {
  const resource = withServerAttachmentUrls(prepareWrite(type, req.body, id), ctx.settings.fhirBase);
  const ifMatch = req.headers.ifMatch !== undefined ? parseEtag(req.headers.ifMatch) : undefined;
  if (req.headers.ifMatch !== undefined && ifMatch === undefined) {
    throw new FhirError('BAD_REQUEST', `If-Match must be an ETag such as W/"3" (got ${req.headers.ifMatch})`, ['If-Match']);
  }
  await assertWritable(ctx.principal, ctx.repo, type, 'u', { id, resource });
  await assertDmpUpdate(ctx, type, id, resource);
  const result = await ctx.repo.transaction(async (repo) => {
    if (type === 'Patient') {
      await assertInsFree(repo, resource as Patient, id);
    }
    return repo.update(type, id, resource, ifMatch);
  });
  return resourceResponse(result.resource, result.created ? 201 : 200);
}

/** delete: idempotent; the resource then reads as 410 Gone. */
export async function deleteHandler(ctx: HandlerContext, type: SupportedType, id: string): Promise<FhirResponse> {
  assertClientWritable(type);
  await assertWritable(ctx.principal, ctx.repo, type, 'd', { id });
  const before = await ctx.repo.read(type, id);
  if (before?.resource) {
    await assertDmpAccess(ctx.principal, ctx.repo, ctx.policy, type, before.resource, 'delete');
  }
  if (type === 'DocumentReference' && before?.resource && !before.deleted) {
    await withdrawDocument(ctx.repo, id, before.resource as DocumentReference);
    return {
      status: 200,
      resource: informational(`${type}/${id} deleted: kept as entered-in-error, retrievable by no one, with its content; the audit trail stays`),
      touched: [{ ref: `${type}/${id}`, patientId: before.patientId ?? null }],
    };
  }
  const deleted = await ctx.repo.delete(type, id);
  return {
    status: 200,
    resource: informational(deleted ? `${type}/${id} deleted` : `${type}/${id} was not live: nothing to delete`),
    touched: [{ ref: `${type}/${id}`, patientId: before?.patientId ?? null }],
  };
}

/**
 * An update of DMP data: the current version must be changeable by the caller (changing a
 * document's visibility labels is its own action, reserved to the author or the patient), and the
 * new content must be something the caller could create.
 */
export async function assertDmpUpdate(ctx: HandlerContext, type: SupportedType, id: string, resource: Resource): Promise<void> {
  const current = (await ctx.repo.read(type, id))?.resource;
  if (!current) {
    await assertDmpAccess(ctx.principal, ctx.repo, ctx.policy, type, { ...resource, id }, 'create');
    if (type === 'Patient' && ctx.policy) {
      requireOpeningConsent(ctx.principal, ctx.beforeCommit, id);
    }
    return;
  }
  const labelsChanged = type === 'DocumentReference' && canonicalJson((current as DocumentReference).securityLabel ?? []) !== canonicalJson((resource as DocumentReference).securityLabel ?? []);
  if (labelsChanged) {
    await assertDmpAccess(ctx.principal, ctx.repo, ctx.policy, type, current, 'change-visibility');
  }
  // Anything else that changes (or a write that changes nothing) needs the right to update: a label
  // change must not carry other changes past the rules.
  if (!labelsChanged || canonicalJson(withoutLabelsAndMeta(current)) !== canonicalJson(withoutLabelsAndMeta(resource))) {
    await assertDmpAccess(ctx.principal, ctx.repo, ctx.policy, type, current, 'update');
  }
}

function withoutLabelsAndMeta(resource: Resource): Resource {
  const { meta: _meta, id: _id, ...rest } = resource as DocumentReference;
  return { ...rest, securityLabel: undefined } as Resource;
}

/**
 * A document's content stored here is retrieved from here (ITI-68): a relative `Binary/<id>`
 * attachment.url (what a transaction's urn:uuid becomes) is made absolute on the FHIR base.
 */
function withServerAttachmentUrls(resource: Resource, fhirBase: string): Resource {
  if (resource.resourceType !== 'DocumentReference') return resource;
  const doc = resource as DocumentReference;
  const content = (doc.content ?? []).map((c) =>
    c.attachment?.url && /^Binary\/[A-Za-z0-9\-.]{1,64}$/.test(c.attachment.url) ? { ...c, attachment: { ...c.attachment, url: `${fhirBase}/${c.attachment.url}` } } : c
  );
  return { ...doc, content } as Resource;
}

/** Reads the version number out of `W/"3"`, `"3"` or `3`. */
export function parseEtag(value: string): number | undefined {
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(value.trim());
  return m ? Number(m[1]) : undefined;
}
