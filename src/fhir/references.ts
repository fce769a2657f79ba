/** A literal reference to a resource, as `Type/id`. */
export interface ResourceRef {
  readonly type: string;
  readonly id: string;
}

const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;
const TYPE_RE = /^[A-Z][A-Za-z]+$/;

/** True for a valid FHIR logical id. */
export function isValidId(id: string): boolean {
  return ID_RE.test(id);
}

/**
 * Reads `Type/id`, `Type/id/_history/n` or an absolute URL ending that way. Returns undefined for
 * contained (`#x`), `urn:` and other non-literal references.
 */
export function parseReference(reference: string): ResourceRef | undefined {
  if (!reference || reference.startsWith('#') || reference.startsWith('urn:')) {
    return undefined;
  }
  const parts = reference.split('?')[0].split('/');
  const historyAt = parts.lastIndexOf('_history');
  const end = historyAt >= 2 ? historyAt : parts.length;
  const type = parts[end - 2];
  const id = parts[end - 1];
  if (!type || !id || !TYPE_RE.test(type) || !isValidId(id)) {
    return undefined;
  }
  return { type, id };
}
