import type { Request } from 'express';
import { FhirError } from '../fhir/outcomes.js';

export const FHIR_JSON = 'application/fhir+json';
export const FHIR_XML = 'application/fhir+xml';

const JSON_FORMATS = new Set(['json', 'application/json', FHIR_JSON]);
const XML_FORMATS = new Set(['xml', 'text/xml', 'application/xml', FHIR_XML]);
/** XML media types that are not FHIR-specific: a document of that type (a CDA Binary) may answer them. */
const GENERIC_XML = new Set(['application/xml', 'text/xml']);
const KNOWN_UNSERVED = new Set(['ttl', 'application/fhir+turtle', 'text/turtle', 'html', 'text/html']);

/**
 * What the client asked the answer to be. 'xml' is FHIR XML asked through a generic XML media
 * type (Accept application/xml or text/xml): a Binary whose own type is XML is then sent as is.
 * 'any' means the client did not insist on a FHIR format (which lets a Binary be its raw bytes).
 */
export type ResponseFormat = 'fhir-json' | 'fhir-xml' | 'xml' | 'any';

/** True when the answer is written as FHIR XML. */
export function isXmlFormat(format: ResponseFormat): boolean {
  return format === 'fhir-xml' || format === 'xml';
}

/**
 * Content negotiation (FHIR R4 http.html#mime-type): `_format` wins over Accept; Accept is read
 * in order of its q-values. FHIR JSON and FHIR XML are served; a request that accepts nothing
 * we serve gets 406.
 */
export function negotiate(format: string | undefined, accept: string | undefined): ResponseFormat {
  if (format !== undefined) {
    // A '+' left unencoded in the query string arrives as a space.
    const f = format.split(';')[0].trim().toLowerCase().replace(/ /g, '+');
    if (JSON_FORMATS.has(f)) {
      return 'fhir-json';
    }
    if (XML_FORMATS.has(f)) {
      return 'fhir-xml';
    }
    throw new FhirError('NOT_ACCEPTABLE', `_format=${format} is not served: this server speaks application/fhir+json and application/fhir+xml`, ['_format']);
  }
  const types = acceptedTypes(accept ?? '');
  if (types.length === 0) {
    return 'any';
  }
  for (const t of types) {
    if (JSON_FORMATS.has(t)) {
      return 'fhir-json';
    }
    if (t === FHIR_XML) {
      return 'fhir-xml';
    }
    if (GENERIC_XML.has(t)) {
      return 'xml';
    }
    if (!KNOWN_UNSERVED.has(t)) {
      // A wildcard, or any other explicit type, which may still be a Binary's own content type.
      return 'any';
    }
  }
  throw new FhirError('NOT_ACCEPTABLE', `None of the accepted media types (${types.join(', ')}) is served: use application/fhir+json or application/fhir+xml`, ['Accept']);
}

/** The negotiated format of an Express request (`_format`, then Accept). */
export function negotiateRequest(req: Request): ResponseFormat {
  return negotiate(firstQuery(req, '_format'), req.header('accept'));
}

/** The first value of a query parameter. */
export function firstQuery(req: Request, key: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[key];
  return Array.isArray(v) ? String(v[0]) : typeof v === 'string' ? v : undefined;
}

/** Media types of an Accept header, most wanted first (q-value, then order); q=0 left out. */
function acceptedTypes(accept: string): string[] {
  return accept
    .split(',')
    .map((part, index) => {
      const [type, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
      const q = params.find((p) => p.startsWith('q='));
      const weight = q === undefined ? 1 : Number(q.slice(2));
      return { type, index, weight: Number.isNaN(weight) ? 1 : weight };
    })
    .filter((t) => t.type !== '' && t.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.index - b.index)
    .map((t) => t.type);
}

function baseType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

/** True for a Content-Type the server parses as a FHIR JSON body. */
export function isJsonContentType(contentType: string | undefined): boolean {
  const t = baseType(contentType);
  return t === FHIR_JSON || t === 'application/json';
}

/** True for a Content-Type the server parses as a FHIR XML body. */
export function isXmlContentType(contentType: string | undefined): boolean {
  const t = baseType(contentType);
  return t === FHIR_XML || GENERIC_XML.has(t);
}

/** True for an XML media type a Binary may carry (application/xml, text/xml, anything +xml). */
export function isXmlMediaType(contentType: string | undefined): boolean {
  const t = baseType(contentType);
  return GENERIC_XML.has(t) || t.endsWith('+xml');
}
