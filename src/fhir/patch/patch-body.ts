import type { Binary, Parameters } from '@medplum/fhirtypes';
import { FhirError } from '../outcomes.js';

/** RFC 6902 media type (FHIR R4 http.html#patch). */
export const JSON_PATCH_CONTENT_TYPE = 'application/json-patch+json';

/** True for a Content-Type carrying an RFC 6902 JSON Patch document. */
export function isJsonPatchContentType(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0].trim().toLowerCase() === JSON_PATCH_CONTENT_TYPE;
}

/** A PATCH body, once its format is known. */
export type PatchDocument =
  | { readonly format: 'json-patch'; readonly operations: unknown }
  | { readonly format: 'fhirpath-patch'; readonly parameters: Parameters };

const FORMATS_HINT = `send a JSON Patch array as ${JSON_PATCH_CONTENT_TYPE}, or a FHIRPath Patch Parameters resource as application/fhir+json`;

/**
 * Tells the two PATCH formats apart. Over HTTP the Content-Type decides; a Bundle entry has none,
 * so its resource decides: a Parameters is a FHIRPath Patch, a Binary of type
 * application/json-patch+json carries a JSON Patch (FHIR R4 http.html#patch, in transactions).
 */
export function readPatchBody(body: unknown, contentType: string | undefined): PatchDocument {
  if (body === undefined || body === null) {
    throw new FhirError('MALFORMED_BODY', `A PATCH needs a body: ${FORMATS_HINT}`);
  }
  if (isJsonPatchContentType(contentType)) {
    return { format: 'json-patch', operations: body };
  }
  if (Array.isArray(body)) {
    if (contentType !== undefined) {
      throw new FhirError('MALFORMED_BODY', `A JSON Patch array must be sent as ${JSON_PATCH_CONTENT_TYPE} (got ${contentType})`, ['Content-Type']);
    }
    return { format: 'json-patch', operations: body };
  }
  const resource = body as { resourceType?: unknown };
  if (resource.resourceType === 'Parameters') {
    return { format: 'fhirpath-patch', parameters: body as Parameters };
  }
  if (resource.resourceType === 'Binary' && contentType === undefined && isJsonPatchContentType((body as Binary).contentType)) {
    return { format: 'json-patch', operations: decodeBinaryPatch(body as Binary) };
  }
  throw new FhirError('MALFORMED_BODY', `This PATCH body is neither a JSON Patch nor a FHIRPath Patch: ${FORMATS_HINT}`);
}

function decodeBinaryPatch(binary: Binary): unknown {
  try {
    return JSON.parse(Buffer.from(binary.data ?? '', 'base64').toString('utf8'));
  } catch {
    throw new FhirError('MALFORMED_BODY', 'The Binary of this PATCH entry does not hold a JSON Patch document', ['Binary.data']);
  }
}
