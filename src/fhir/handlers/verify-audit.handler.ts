import type { Parameters, Resource } from '@medplum/fhirtypes';
import { verifyChain } from '../../audit/audit-writer.js';
import { assertDmpAccess } from '../../policy/dmp-gate.js';
import { requireScope } from '../../policy/scope-gate.js';
import { assertReadable } from '../../policy/access.js';
import { FhirError } from '../outcomes.js';
import type { SupportedType } from '../resource-types.js';
import type { FhirResponse, HandlerContext } from '../types.js';

/**
 * `GET [base]/Patient/{id}/$verify-audit`: recomputes the hash chain of the patient's audit trail
 * and says whether it is intact (Parameters: valid, count, and where it broke). Reading it is
 * reading the patient's traces.
 */
export async function verifyAuditHandler(ctx: HandlerContext, type: SupportedType, id: string): Promise<FhirResponse> {
  if (type !== 'Patient') {
    throw new FhirError('UNKNOWN_ROUTE', '$verify-audit is defined on Patient only');
  }
  requireScope(ctx.principal, 'AuditEvent', 'r');
  // The whole chain is the patient's: a professional sees only their own traces, never its size.
  if (ctx.principal.kind === 'practitioner') {
    throw new FhirError('FORBIDDEN', "La vérification de l'historique d'accès est réservée au patient (the audit chain of a DMP is checked by its patient or a system client)");
  }
  const stored = await ctx.repo.read('Patient', id);
  if (!stored?.resource) {
    throw new FhirError('NOT_FOUND', `Patient/${id} does not exist`);
  }
  await assertReadable(ctx.principal, ctx.repo, 'Patient', id);
  await assertDmpAccess(ctx.principal, ctx.repo, ctx.policy, 'Patient', stored.resource as Resource, 'read-audit');
  const result = await verifyChain(ctx.repo, id);
  const parameters: Parameters = {
    resourceType: 'Parameters',
    parameter: [
      { name: 'valid', valueBoolean: result.valid },
      { name: 'count', valueInteger: result.count },
      ...(result.brokenAt !== undefined ? [{ name: 'brokenAt', valueInteger: result.brokenAt }] : []),
      ...(result.problem ? [{ name: 'problem', valueString: result.problem }] : []),
    ],
  };
  return { status: 200, resource: parameters, touched: [{ ref: `Patient/${id}`, patientId: id }] };
}
