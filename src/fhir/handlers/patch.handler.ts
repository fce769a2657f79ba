import type { DocumentReference, Resource } from '@medplum/fhirtypes';
import { FhirError } from '../outcomes.js';
import type { SupportedType } from '../resource-types.js';
import type { FhirRequest, FhirResponse, HandlerContext } from '../types.js';
import { assertWritable } from '../../policy/access.js';
import { assertDmpAccess } from '../../policy/dmp-gate.js';
import { assertMetadataOnlyChange } from '../patch/allowed-changes.js';
import { applyFhirPathPatch } from '../patch/fhirpath-patch.js';
import { applyJsonPatch } from '../patch/json-patch.js';
import { readPatchBody } from '../patch/patch-body.js';
import { assertDmpUpdate, findByCriteria, parseEtag, resourceResponse } from './crud.handler.js';
import { prepareWrite } from './write-input.js';

/** The types PATCH serves: the DMP metadata update (TD3.3) is about documents only. */
export const PATCHABLE_TYPES: readonly SupportedType[] = ['DocumentReference'];

/** Query parameters that shape the answer, not the conditional criteria. */
const FORMAT_PARAMS = new Set(['_format', '_pretty']);

/**
 * PATCH [base]/DocumentReference/{id} (FHIR R4 http.html#patch) with a JSON Patch or a FHIRPath
 * Patch: applied to the current version, limited to the metadata TD3.3 lets change, then written
 * as an update (validation, DMP rules, If-Match, a new version).
 */
export async function patchHandler(ctx: HandlerContext, req: FhirRequest, type: SupportedType, id: string): Promise<FhirResponse> {
  if (!PATCHABLE_TYPES.includes(type)) {
    throw new FhirError('METHOD_NOT_ALLOWED', `PATCH is supported on ${PATCHABLE_TYPES.join(', ')} only, not on ${type}`);
  }
  const ifMatch = ifMatchOf(req);
  const stored = await ctx.repo.read(type, id);
  if (!stored?.resource || stored.deleted) {
    throw new FhirError('NOT_FOUND', `${type}/${id} does not exist (or is deleted): nothing to patch`);
  }
  const current = stored.resource as DocumentReference;
  await assertWritable(ctx.principal, ctx.repo, type, 'u', { id });
  // Before the patch reads the content: a failing `test` or a where() must not reveal a document
  // the caller may neither change nor see.
  await assertMayPatch(ctx, type, current);
  if (ifMatch !== undefined && ifMatch !== stored.versionId) {
    throw new FhirError('PRECONDITION_FAILED', `If-Match W/"${ifMatch}" does not match the current version W/"${stored.versionId}" of ${type}/${id}`, ['If-Match']);
  }
  const patched = applyPatchBody(current, req);
  assertMetadataOnlyChange(current, patched);
  const resource = prepareWrite(type, patched, id);
  await assertWritable(ctx.principal, ctx.repo, type, 'u', { id, resource });
  // A label change is 'change-visibility'; any other change (status, archive) needs 'update' too.
  await assertDmpUpdate(ctx, type, id, resource);
  return resourceResponse(await writeVersion(ctx, req, type, id, resource as DocumentReference, stored.versionId), 200);
}

/**
 * Conditional PATCH [base]/DocumentReference?identifier=system|value: the criteria must match
 * exactly one resource the caller can see (none: 404, several: 412).
 */
export async function conditionalPatchHandler(ctx: HandlerContext, req: FhirRequest, type: SupportedType): Promise<FhirResponse> {
  const criteria = new URLSearchParams();
  for (const [key, values] of Object.entries(req.query)) {
    if (!FORMAT_PARAMS.has(key)) {
      values.forEach((v) => criteria.append(key, v));
    }
  }
  if ([...criteria.keys()].length === 0) {
    throw new FhirError('BAD_REQUEST', `A conditional PATCH needs search criteria, e.g. ${type}?identifier=system|value`);
  }
  const matches = await findByCriteria(ctx, type, criteria.toString());
  if (matches.length === 0) {
    throw new FhirError('NOT_FOUND', `No ${type} matches ${criteria.toString()}: nothing to patch`);
  }
  if (matches.length > 1) {
    throw new FhirError('CONDITIONAL_NOT_SELECTIVE', `The criteria ${criteria.toString()} match several ${type} resources: a conditional PATCH needs exactly one`);
  }
  return patchHandler(ctx, req, type, matches[0].id as string);
}

function ifMatchOf(req: FhirRequest): number | undefined {
  if (req.headers.ifMatch === undefined) {
    return undefined;
  }
  const version = parseEtag(req.headers.ifMatch);
  if (version === undefined) {
    throw new FhirError('BAD_REQUEST', `If-Match must be an ETag such as W/"3" (got ${req.headers.ifMatch})`, ['If-Match']);
  }
  return version;
}

/** The caller may change this document in some way (its visibility, or more): else the refusal of the visibility change. */
async function assertMayPatch(ctx: HandlerContext, type: SupportedType, current: DocumentReference): Promise<void> {
  try {
    await assertDmpAccess(ctx.principal, ctx.repo, ctx.policy, type, current, 'change-visibility');
  } catch (refusal) {
    if (!(refusal instanceof FhirError)) {
      throw refusal;
    }
    await assertDmpAccess(ctx.principal, ctx.repo, ctx.policy, type, current, 'update').catch(() => {
      throw refusal;
    });
  }
}

function applyPatchBody(current: DocumentReference, req: FhirRequest): DocumentReference {
  const body = readPatchBody(req.body, req.headers.contentType);
  return body.format === 'json-patch' ? applyJsonPatch(current, body.operations) : applyFhirPathPatch(current, body.parameters);
}

/**
 * The new version, written only over the version the patch was applied to: a concurrent write in
 * between is a 412 when the client sent If-Match, else a 409 asking to retry.
 */
async function writeVersion(ctx: HandlerContext, req: FhirRequest, type: SupportedType, id: string, resource: DocumentReference, base: number): Promise<Resource> {
  try {
    return (await ctx.repo.update(type, id, resource, base)).resource;
  } catch (err) {
    if (err instanceof FhirError && err.status === 412 && req.headers.ifMatch === undefined) {
      throw new FhirError('CONFLICT', `${type}/${id} changed while the patch was being applied: read it again and retry`);
    }
    throw err;
  }
}
