import { FhirError } from '../fhir/outcomes.js';

export const FHIR_JSON = 'application/fhir+json';

const JSON_FORMATS = new Set(['json', 'application/json', 'application/fhir+json']);
const KNOWN_UNSERVED = new Set(['xml', 'text/xml', 'application/xml', 'application/fhir+xml', 'ttl', 'application/fhir+turtle', 'html', 'text/html']);

/** What the client asked the answer to be. */
export type ResponseFormat = 'fhir-json' | 'any';

/**
 * Content negotiation (FHIR R4 http.html#mime-type): `_format` wins over Accept. JSON is served;
 * a request that accepts nothing we serve gets 406. 'any' means the client did not insist on FHIR
 * JSON (which lets a Binary be returned as its raw bytes).
 */
export function negotiate(format: string | undefined, accept: string | undefined): ResponseFormat {
  if (format !== undefined) {
    const f = format.split(';')[0].trim().toLowerCase();
    if (JSON_FORMATS.has(f)) {
      return 'fhir-json';
    }
    throw new FhirError('NOT_ACCEPTABLE', `_format=${format} is not served: this server speaks application/fhir+json`, ['_format']);
  }
  if (!accept || accept.trim() === '') {
    return 'any';
  }
  const types = accept.split(',').map((part) => part.split(';')[0].trim().toLowerCase());
  if (types.some((t) => t === FHIR_JSON || t === 'application/json')) {
    return 'fhir-json';
  }
  if (types.some((t) => t === '*/*' || t === 'application/*')) {
    return 'any';
  }
  return types.some((t) => KNOWN_UNSERVED.has(t)) || types.length > 0 ? rejectOrRaw(types) : 'any';
}

// Any other explicit media type may still be a Binary's own content type; the route decides.
function rejectOrRaw(types: string[]): ResponseFormat {
  if (types.every((t) => KNOWN_UNSERVED.has(t))) {
    throw new FhirError('NOT_ACCEPTABLE', `None of the accepted media types (${types.join(', ')}) is served: use application/fhir+json`, ['Accept']);
  }
  return 'any';
}

/** True for a Content-Type the server parses as a FHIR JSON body. */
export function isJsonContentType(contentType: string | undefined): boolean {
  const t = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return t === FHIR_JSON || t === 'application/json';
}
