import type { Parameters, Resource } from '@medplum/fhirtypes';
import { FhirError, informational } from '../outcomes.js';
import type { SupportedType } from '../resource-types.js';
import type { FhirRequest, FhirResponse } from '../types.js';
import { prepareWrite } from './write-input.js';

/**
 * `$validate` (FHIR R4 resource-operation-validate): the same checks as a write, nothing stored.
 * Accepts the resource itself or a Parameters with a `resource` part. Invalid: 400/422 OperationOutcome.
 */
export async function validateHandler(req: FhirRequest, type: SupportedType): Promise<FhirResponse> {
  let body = req.body as Resource | undefined;
  if (body?.resourceType === 'Parameters') {
    body = (body as Parameters).parameter?.find((p) => p.name === 'resource')?.resource;
    if (!body) {
      throw new FhirError('BAD_REQUEST', 'The Parameters body has no "resource" parameter', ['Parameters.parameter']);
    }
  }
  prepareWrite(type, body, (body as Resource | undefined)?.id);
  return { status: 200, resource: informational(`The ${type} is valid`) };
}
