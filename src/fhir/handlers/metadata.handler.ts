import type { CapabilityStatement } from '@medplum/fhirtypes';
import { buildCapabilityStatement } from '../capability.js';
import { ROUTES } from '../router.js';
import type { FhirResponse, HandlerContext } from '../types.js';

let cached: CapabilityStatement | undefined;

/** `GET [base]/metadata`: the CapabilityStatement (built once per process). */
export async function metadataHandler(ctx: HandlerContext): Promise<FhirResponse> {
  cached ??= buildCapabilityStatement(ROUTES, new Date().toISOString());
  const statement = { ...cached, implementation: { description: 'DMP FHIR server', url: ctx.settings.fhirBase } };
  return { status: 200, resource: statement };
}
