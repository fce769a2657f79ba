import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { isProvideDocumentBundle, prepareProvideDocumentBundle } from '../../mhd/submission.js';
import { FhirError } from '../outcomes.js';
import { parsePrefer } from '../prefer.js';
import { isSupportedType, type SupportedType } from '../resource-types.js';
import type { FhirRequest, FhirResponse, HandlerContext, HttpMethod } from '../types.js';
import { createHandler, findByCriteria } from './crud.handler.js';
import { shapeForPrefer } from '../response-shape.js';
import { dispatch } from '../router.js';

const METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];
/** FHIR R4 transaction processing order: DELETE, POST, PUT/PATCH, GET. */
const ORDER: Record<HttpMethod, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3 };

/** `POST [base]` with a batch or transaction Bundle (FHIR R4 http.html#transaction). */
export async function bundleHandler(ctx: HandlerContext, req: FhirRequest): Promise<FhirResponse> {
  const bundle = req.body as Bundle | undefined;
  if (!bundle || bundle.resourceType !== 'Bundle') {
    throw new FhirError('INVALID_BUNDLE', 'POST to the FHIR base takes a Bundle of type batch or transaction', ['Bundle']);
  }
  if (bundle.type !== 'batch' && bundle.type !== 'transaction') {
    throw new FhirError('INVALID_BUNDLE', `Bundle.type must be batch or transaction (got "${String(bundle.type)}")`, ['Bundle.type']);
  }
  const entries = (bundle.entry ?? []).map((e, i) => toEntryRequest(e, i, req.headers.prefer));
  const responses = bundle.type === 'transaction' ? await runTransaction(ctx, entries) : await runBatch(ctx, entries);
  return {
    status: 200,
    resource: {
      resourceType: 'Bundle',
      type: bundle.type === 'transaction' ? 'transaction-response' : 'batch-response',
      entry: responses.map((r, i) => responseEntry(ctx, r, entries[i])),
    },
  };
}

interface EntryRequest {
  readonly index: number;
  readonly fullUrl?: string;
  readonly request: FhirRequest;
  readonly type?: string;
}

function toEntryRequest(entry: BundleEntry, index: number, prefer: string | undefined): EntryRequest {
  const where = `Bundle.entry[${index}]`;
  const method = entry.request?.method as HttpMethod | undefined;
  const url = entry.request?.url;
  if (!method || !METHODS.includes(method) || !url) {
    throw new FhirError('INVALID_BUNDLE', `${where}.request needs a method (GET, POST, PUT, DELETE) and a url`, [`${where}.request`]);
  }
  const [path, qs] = url.replace(/^\//, '').split('?');
  const query: Record<string, string[]> = {};
  for (const [k, v] of new URLSearchParams(qs ?? '')) {
    (query[k] ??= []).push(v);
  }
  if ((method === 'POST' || method === 'PUT') && !entry.resource) {
    throw new FhirError('INVALID_BUNDLE', `${where} (${method} ${url}) has no resource`, [`${where}.resource`]);
  }
  return {
    index,
    fullUrl: entry.fullUrl,
    type: path.split('/')[0],
    request: {
      method,
      path,
      query,
      body: entry.resource,
      headers: {
        ifMatch: entry.request?.ifMatch,
        ifNoneExist: entry.request?.ifNoneExist,
        ifNoneMatch: entry.request?.ifNoneMatch,
        prefer,
      },
    },
  };
}

/** Batch: each entry on its own; a failing entry answers with its OperationOutcome, others still run. */
async function runBatch(ctx: HandlerContext, entries: EntryRequest[]): Promise<FhirResponse[]> {
  const out: FhirResponse[] = [];
  for (const entry of entries) {
    try {
      out.push(await dispatch(ctx, entry.request));
    } catch (err) {
      if (!(err instanceof FhirError)) {
        throw err;
      }
      out.push({ status: err.status, resource: err.outcome });
    }
  }
  return out;
}

/**
 * An ITI-65 Provide Document Bundle (it creates a SubmissionSet) is checked as a whole before any
 * entry runs; the entries come back as they are to be written (class, subject, Binary context).
 */
async function checkedSubmission(ctx: HandlerContext, entries: EntryRequest[]): Promise<EntryRequest[]> {
  const view = entries.map((e) => ({ index: e.index, fullUrl: e.fullUrl, method: e.request.method, type: e.type, resource: e.request.body as Resource | undefined }));
  if (!isProvideDocumentBundle(view)) {
    return entries;
  }
  const rewritten = await prepareProvideDocumentBundle(ctx.repo, view, ctx.settings.fhirBase);
  return entries.map((e) => (rewritten.has(e.index) ? { ...e, request: { ...e.request, body: rewritten.get(e.index) } } : e));
}

/** Transaction: all entries in one database transaction; the first failure rolls everything back. */
async function runTransaction(ctx: HandlerContext, submitted: EntryRequest[]): Promise<FhirResponse[]> {
  let entries = submitted;
  return ctx.repo.transaction(async (repo) => {
    const beforeCommit: NonNullable<HandlerContext['beforeCommit']> = [];
    const txCtx: HandlerContext = { ...ctx, repo, beforeCommit };
    entries = await checkedSubmission(txCtx, entries);
    const ids = await assignIds(txCtx, entries);
    const resolved = entries.map((e) => resolveEntry(e, ids));
    const out = new Array<FhirResponse>(entries.length);
    // A Patient created by the Bundle comes first among the POSTs: its record must exist before the
    // Consents and documents the same Bundle adds to it are decided.
    const rank = (e: EntryRequest): number => ORDER[e.request.method] * 2 + (e.request.method === 'POST' && e.type === 'Patient' ? 0 : 1);
    const order = [...resolved].sort((a, b) => rank(a) - rank(b) || a.index - b.index);
    for (const entry of order) {
      out[entry.index] = await runEntry(txCtx, entry, ids);
    }
    for (const check of beforeCommit) {
      await check(repo);
    }
    return out;
  });
}

interface Assigned {
  /** `urn:uuid:...` fullUrl → `Type/id`. */
  readonly refs: Map<string, string>;
  /** Entry index → the id its POST creates. */
  readonly ids: Map<number, string>;
  /** Entries whose conditional create matched an existing resource. */
  readonly existing: Map<number, Resource>;
}

/** Gives every POST entry its id up front, so references between entries can be rewritten. */
async function assignIds(ctx: HandlerContext, entries: EntryRequest[]): Promise<Assigned> {
  const refs = new Map<string, string>();
  const ids = new Map<number, string>();
  const existing = new Map<number, Resource>();
  // Same locks as a plain conditional create, all taken up front in one order so that two
  // transactions with several conditional entries cannot deadlock each other.
  const lockKeys = entries
    .filter((e) => e.request.method === 'POST' && e.request.headers.ifNoneExist)
    .map((e) => `${e.type}?${e.request.headers.ifNoneExist}`);
  for (const key of [...new Set(lockKeys)].sort()) {
    await ctx.repo.lockKey(key);
  }
  for (const entry of entries) {
    if (entry.request.method !== 'POST' || !entry.type || !isSupportedType(entry.type) || entry.request.path.includes('/')) {
      continue;
    }
    let id: string = randomUUID();
    if (entry.request.headers.ifNoneExist) {
      const found = await findByCriteria(ctx, entry.type, entry.request.headers.ifNoneExist);
      if (found.length > 1) {
        throw new FhirError('CONDITIONAL_NOT_SELECTIVE', `Bundle.entry[${entry.index}]: If-None-Exist matches ${found.length} resources`, [`Bundle.entry[${entry.index}].request.ifNoneExist`]);
      }
      if (found.length === 1) {
        id = found[0].id as string;
        existing.set(entry.index, found[0]);
      }
    }
    if (entry.fullUrl) {
      if (refs.has(entry.fullUrl)) {
        throw new FhirError('INVALID_BUNDLE', `Bundle.entry[${entry.index}].fullUrl "${entry.fullUrl}" is used twice`, [`Bundle.entry[${entry.index}].fullUrl`]);
      }
      refs.set(entry.fullUrl, `${entry.type}/${id}`);
    }
    ids.set(entry.index, id);
  }
  return { refs, ids, existing };
}

/** Rewrites every `urn:uuid:` (or other entry fullUrl) value in the entry's resource and URL. */
function resolveEntry(entry: EntryRequest, assigned: Assigned): EntryRequest {
  const body = entry.request.body === undefined ? undefined : rewriteRefs(entry.request.body, assigned.refs);
  const unresolved = findUnresolved(body);
  if (unresolved) {
    throw new FhirError('UNRESOLVED_REFERENCE', `Bundle.entry[${entry.index}] refers to "${unresolved}", which no entry of the transaction defines`, [`Bundle.entry[${entry.index}].resource`]);
  }
  const path = assigned.refs.get(entry.request.path) ?? entry.request.path;
  return { ...entry, request: { ...entry.request, path, body } };
}

function rewriteRefs(value: unknown, refs: Map<string, string>): unknown {
  if (typeof value === 'string') {
    return refs.get(value) ?? value;
  }
  if (Array.isArray(value)) {
    return value.map((v) => rewriteRefs(v, refs));
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewriteRefs(v, refs)]));
  }
  return value;
}

/** The first unresolved `urn:uuid:` left in a reference or url element, if any. */
function findUnresolved(value: unknown): string | undefined {
  if (Array.isArray(value)) {
    for (const v of value) {
      const found = findUnresolved(v);
      if (found) {
        return found;
      }
    }
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      // Reference.reference and Attachment.url are where entries point at each other.
      if ((k === 'reference' || k === 'url') && typeof v === 'string' && v.startsWith('urn:uuid:')) {
        return v;
      }
      const found = findUnresolved(v);
      if (found) {
        return found;
      }
    }
  }
  return undefined;
}

async function runEntry(ctx: HandlerContext, entry: EntryRequest, assigned: Assigned): Promise<FhirResponse> {
  const existing = assigned.existing.get(entry.index);
  if (existing) {
    return { status: 200, resource: existing, versionId: existing.meta?.versionId, lastUpdated: existing.meta?.lastUpdated, preferApplies: true };
  }
  const assignedId = assigned.ids.get(entry.index);
  try {
    // A POST with a pre-assigned id is a create at that id (so references to it resolve); its
    // If-None-Exist was already settled by assignIds. It stays a create (history says POST).
    if (assignedId) {
      const request: FhirRequest = { ...entry.request, headers: { ...entry.request.headers, ifNoneExist: undefined } };
      return await createHandler(ctx, request, entry.type as SupportedType, assignedId);
    }
    return await dispatch(ctx, entry.request);
  } catch (err) {
    if (err instanceof FhirError) {
      throw prefixError(err, entry);
    }
    throw err;
  }
}

/** Says which entry failed, keeping the error's status and catalogue code. */
function prefixError(err: FhirError, entry: EntryRequest): FhirError {
  const where = `Bundle.entry[${entry.index}]`;
  for (const issue of err.outcome.issue) {
    if (issue.details) {
      issue.details.text = `${where} (${entry.request.method} ${entry.request.path}): ${issue.details.text ?? ''}`;
    }
    issue.expression = (issue.expression ?? []).map((e) => `${where}.resource.${e.replace(/^[A-Za-z]+\./, '')}`);
    if (issue.expression.length === 0) {
      issue.expression = [where];
    }
  }
  return err;
}

function responseEntry(ctx: HandlerContext, r: FhirResponse, entry: EntryRequest): BundleEntry {
  const shaped = shapeForPrefer(r, parsePrefer(entry.request.headers.prefer).return);
  const isOutcome = shaped.resource?.resourceType === 'OperationOutcome' && r.status >= 400;
  return {
    ...(r.resource?.id && r.resource.resourceType !== 'OperationOutcome' ? { fullUrl: `${ctx.settings.fhirBase}/${r.resource.resourceType}/${r.resource.id}` } : {}),
    ...(shaped.resource && !isOutcome ? { resource: shaped.resource } : {}),
    response: {
      status: statusLine(r.status),
      ...(r.location || (r.status === 201 && r.resource) ? { location: r.location ?? `${r.resource?.resourceType}/${r.resource?.id}/_history/${r.versionId}` } : {}),
      ...(r.versionId ? { etag: `W/"${r.versionId}"` } : {}),
      ...(r.lastUpdated ? { lastModified: r.lastUpdated } : {}),
      ...(isOutcome ? { outcome: shaped.resource } : {}),
    },
  };
}

const REASONS: Record<number, string> = { 200: 'OK', 201: 'Created', 204: 'No Content', 304: 'Not Modified', 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 410: 'Gone', 412: 'Precondition Failed', 422: 'Unprocessable Entity' };

function statusLine(status: number): string {
  return REASONS[status] ? `${status} ${REASONS[status]}` : String(status);
}
