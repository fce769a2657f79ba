import type { Binary, Bundle, DocumentReference } from '@medplum/fhirtypes';
import { FhirError } from './outcomes.js';

/** Decoded size of base64 text (3 bytes per 4 characters, less the padding), without decoding it; whitespace does not count. */
export function base64DecodedLength(data: string): number {
  const text = /\s/.test(data) ? data.replace(/\s+/g, '') : data;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return Math.floor((text.length * 3) / 4) - padding;
}

/** A document carried as base64 in a request body, and where. */
interface CarriedDocument {
  readonly data: string;
  readonly expression: string;
}

/**
 * The documents a write carries: a Binary's data, a DocumentReference's attachment data (ITI-105
 * simplified publish), and those of every Bundle entry (ITI-65), each with its FHIRPath location.
 */
function documentsIn(resource: unknown, path: string): CarriedDocument[] {
  if (!resource || typeof resource !== 'object') {
    return [];
  }
  const r = resource as { resourceType?: unknown };
  switch (r.resourceType) {
    case 'Binary': {
      const data = (r as Binary).data;
      return typeof data === 'string' ? [{ data, expression: `${path}.data` }] : [];
    }
    case 'DocumentReference': {
      const content = (r as DocumentReference).content;
      return (Array.isArray(content) ? content : []).flatMap((c, i) =>
        typeof c?.attachment?.data === 'string' ? [{ data: c.attachment.data, expression: `${path}.content[${i}].attachment.data` }] : []
      );
    }
    case 'Bundle': {
      const entries = (r as Bundle).entry;
      return (Array.isArray(entries) ? entries : []).flatMap((e, i) => documentsIn(e?.resource, `${path}.entry[${i}].resource`));
    }
    default:
      return [];
  }
}

/**
 * Refuses (413) a write body carrying a document larger than `maxBytes` once decoded, naming the
 * first one over the limit. A Bundle is refused as a whole (batch included): the request is too large.
 */
export function assertDocumentSizes(body: unknown, maxBytes: number): void {
  const type = (body as { resourceType?: unknown } | undefined)?.resourceType;
  if (typeof type !== 'string') {
    return;
  }
  for (const { data, expression } of documentsIn(body, type)) {
    const size = base64DecodedLength(data);
    if (size > maxBytes) {
      throw new FhirError('BINARY_TOO_LARGE', `${expression} holds a document of ${size} bytes; this server accepts documents of at most ${maxBytes} bytes`, [expression]);
    }
  }
}
