/** The resource types this server stores and serves. */
export const RESOURCE_TYPES = [
  'Patient',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'DocumentReference',
  'Binary',
  'List',
  'Consent',
  'AuditEvent',
  /** Legal representatives of minors (issue 4); tables from migration 005. */
  'RelatedPerson',
] as const;

export type SupportedType = (typeof RESOURCE_TYPES)[number];

export function isSupportedType(type: string): type is SupportedType {
  return (RESOURCE_TYPES as readonly string[]).includes(type);
}

/** Types no client may create, update or delete (written by the server itself). */
export const SERVER_WRITTEN_TYPES: readonly SupportedType[] = ['AuditEvent'];

/** Table holding the current version of each resource of a type. */
export function currentTable(type: SupportedType): string {
  return `res_${type.toLowerCase()}`;
}

/** Table holding every version (including deletions) of each resource of a type. */
export function historyTable(type: SupportedType): string {
  return `hist_${type.toLowerCase()}`;
}
