import type { Resource } from '@medplum/fhirtypes';
import { FhirError } from '../outcomes.js';
import { isValidId } from '../references.js';
import { SERVER_WRITTEN_TYPES, type SupportedType } from '../resource-types.js';
import { PROFILE_URLS, validateForWrite } from '../validate.js';
import type { Patient } from '@medplum/fhirtypes';
import { withDerivedClass } from '../../mhd/document-metadata.js';
import { insIssues, insTraitIssues, missingInsIssues, qualifiedIdentityIssues } from '../../dmp/patient-ins.js';

/** Refuses client writes to types only the server writes (AuditEvent). */
export function assertClientWritable(type: SupportedType): void {
  if (SERVER_WRITTEN_TYPES.includes(type)) {
    throw new FhirError('METHOD_NOT_ALLOWED', `${type} is written by the server only: clients cannot create, update or delete it`);
  }
}

/**
 * Checks and normalises a resource a client wants to write: right type, id rules for PUT,
 * server-owned meta removed, our profile declared, then validated (400 base / 422 profile).
 */
export function prepareWrite(type: SupportedType, body: unknown, urlId?: string): Resource {
  assertClientWritable(type);
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new FhirError('MALFORMED_BODY', `The request body must be a ${type} resource in JSON`);
  }
  const resource = body as Resource;
  if (resource.resourceType !== type) {
    throw new FhirError('WRONG_RESOURCE_TYPE', `The body is a ${String(resource.resourceType)} but the URL is for ${type}`, ['resourceType']);
  }
  if (urlId !== undefined) {
    if (!isValidId(urlId)) {
      throw new FhirError('INVALID_ID', `"${urlId}" is not a valid FHIR id (1 to 64 characters among A-Z a-z 0-9 - .)`, [`${type}.id`]);
    }
    if (!resource.id) {
      throw new FhirError('MISSING_ID', `A PUT body must carry the id of the URL ("${urlId}")`, [`${type}.id`]);
    }
    if (resource.id !== urlId) {
      throw new FhirError('ID_MISMATCH', `The body id "${resource.id}" differs from the URL id "${urlId}"`, [`${type}.id`]);
    }
  }
  const { versionId: _v, lastUpdated: _l, ...meta } = resource.meta ?? {};
  const profiles = new Set(meta.profile ?? []);
  if (PROFILE_URLS[type]) {
    profiles.add(PROFILE_URLS[type]);
  }
  let prepared = { ...resource, meta: { ...meta, ...(profiles.size > 0 ? { profile: [...profiles] } : {}) } } as Resource;
  if (prepared.resourceType === 'DocumentReference') {
    // The class is the type's (src/dmp/type-class.ts), never the client's.
    const derived = withDerivedClass(prepared);
    if (derived.issues.length > 0) {
      throw FhirError.withIssues('DOCUMENT_CLASS_MISMATCH', derived.issues);
    }
    prepared = derived.doc;
  }
  if (urlId === undefined) {
    delete (prepared as { id?: string }).id;
  }
  validateForWrite(prepared);
  if (prepared.resourceType === 'Patient') {
    assertDmpIdentity(prepared);
  }
  return prepared;
}

/** A Patient is a DMP: a valid INS, a qualified identity, the INS traits (422 for each kind of failure). */
function assertDmpIdentity(patient: Patient): void {
  const checks = [
    ['INVALID_INS', insIssues],
    ['INS_REQUIRED', missingInsIssues],
    ['IDENTITY_NOT_QUALIFIED', qualifiedIdentityIssues],
    ['INS_TRAITS_MISSING', insTraitIssues],
  ] as const;
  for (const [kind, issuesOf] of checks) {
    const issues = issuesOf(patient);
    if (issues.length > 0) {
      throw FhirError.withIssues(kind, issues);
    }
  }
}
