import { grantingScopes, type Permission } from '../auth/scopes.js';
import { FhirError } from '../fhir/outcomes.js';
import type { SupportedType } from '../fhir/resource-types.js';
import { isAuthenticated, type Principal } from './principal.js';
import { PATIENT_COMPARTMENT_TYPES } from './search-filter.js';

/** The SMART permission letter a FHIR interaction needs (undefined: none, e.g. capabilities). */
export function permissionFor(interaction: string): Permission | undefined {
  switch (interaction) {
    case 'read':
    case 'vread':
    case 'history-instance':
      return 'r';
    case 'search-type':
    case 'history-type':
      return 's';
    case 'create':
      return 'c';
    case 'update':
    case 'patch':
      return 'u';
    case 'delete':
      return 'd';
    default:
      return undefined;
  }
}

/**
 * The coarse gate: the token must hold a scope granting this permission on this type.
 * 401 without a principal, 403 naming the missing scope otherwise.
 */
export function requireScope(principal: Principal, type: SupportedType, permission: Permission): void {
  if (principal.kind === 'internal') {
    return;
  }
  if (!isAuthenticated(principal)) {
    throw new FhirError('UNAUTHORIZED', 'A bearer access token is required');
  }
  if (grantingScopes(principal.token.scopes, { resourceType: type, permission }).length === 0) {
    const ctx = principal.kind === 'system' ? 'system' : principal.token.patientId ? 'patient' : 'user';
    throw new FhirError('INSUFFICIENT_SCOPE', `The access token has no scope allowing this: it needs e.g. ${ctx}/${type}.${permission} (granted: ${principal.token.scope || 'none'})`);
  }
}

/**
 * For writes: when only `patient/` scopes grant the permission, the written resource must belong
 * to the token's patient (`patientId` = the compartment the resource falls in).
 */
export function requireWithinPatientContext(principal: Principal, type: SupportedType, permission: Permission, resourcePatientId: string | null): void {
  if (!isAuthenticated(principal) || !PATIENT_COMPARTMENT_TYPES.has(type)) {
    return;
  }
  const scopes = grantingScopes(principal.token.scopes, { resourceType: type, permission });
  const onlyPatientScopes = scopes.length > 0 && scopes.every((s) => s.context === 'patient');
  if (onlyPatientScopes && (!principal.token.patientId || resourcePatientId !== principal.token.patientId)) {
    throw new FhirError('OUTSIDE_PATIENT_CONTEXT', `This token is limited to patient ${principal.token.patientId ?? '(none)'}: the ${type} belongs to another patient's record`);
  }
}
