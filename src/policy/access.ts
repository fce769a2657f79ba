import type { Resource } from '@medplum/fhirtypes';
import type { Permission } from '../auth/scopes.js';
import { FhirError } from '../fhir/outcomes.js';
import type { SupportedType } from '../fhir/resource-types.js';
import type { ResourceRepo } from '../repo/resource-repo.js';
import type { Principal } from './principal.js';
import { requireWithinPatientContext } from './scope-gate.js';
import { searchFilterFor } from './search-filter.js';

/**
 * Reads of one resource pass the same filter as a search: a resource outside the token's patient
 * or its granular scope is refused (403), never served.
 */
export async function assertReadable(principal: Principal, repo: ResourceRepo, type: SupportedType, id: string): Promise<void> {
  if (principal.kind === 'internal') {
    return;
  }
  if (!(await repo.isVisible(type, id, searchFilterFor(principal, type, 'r')))) {
    throw new FhirError('OUTSIDE_PATIENT_CONTEXT', `${type}/${id} is outside what this access token may read (its patient context or scope)`);
  }
}

/**
 * Writes: the existing resource (update, delete) must be visible to the token, and the new content
 * (create, update) must stay inside the token's patient when only `patient/` scopes allow the write.
 */
export async function assertWritable(
  principal: Principal,
  repo: ResourceRepo,
  type: SupportedType,
  permission: Permission,
  target: { id?: string; resource?: Resource }
): Promise<void> {
  if (principal.kind === 'internal') {
    return;
  }
  if (target.id && (await repo.read(type, target.id)) && !(await repo.isVisible(type, target.id, searchFilterFor(principal, type, permission)))) {
    throw new FhirError('OUTSIDE_PATIENT_CONTEXT', `${type}/${target.id} is outside what this access token may change`);
  }
  if (target.resource) {
    requireWithinPatientContext(principal, type, permission, await repo.compartmentOf(type, target.id ?? '', target.resource));
  }
}
