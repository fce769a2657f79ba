import type { Parameters, Resource } from '@medplum/fhirtypes';
import { FhirError, informational } from '../outcomes.js';
import type { SupportedType } from '../resource-types.js';
import type { FhirRequest, FhirResponse } from '../types.js';
import { MHD_PROFILE_URLS, PROFILE_URLS } from '../validate.js';
import { prepareWrite } from './write-input.js';

/**
 * `$validate` (FHIR R4 resource-operation-validate): the same checks as a write, nothing stored.
 * Accepts the resource itself or a Parameters with a `resource` part, and a `profile` (query or
 * Parameters) naming one of the server's profiles to check as well, e.g. the MHD comprehensive
 * DocumentReference an ITI-65 submission must conform to. Invalid: 400/422 OperationOutcome.
 */
export async function validateHandler(req: FhirRequest, type: SupportedType): Promise<FhirResponse> {
  let body = req.body as Resource | undefined;
  let profile: string | undefined = req.query.profile?.[0];
  if (body?.resourceType === 'Parameters') {
    const parameters = (body as Parameters).parameter ?? [];
    profile ??= parameters.find((p) => p.name === 'profile')?.valueUri ?? parameters.find((p) => p.name === 'profile')?.valueCanonical;
    body = parameters.find((p) => p.name === 'resource')?.resource;
    if (!body) {
      throw new FhirError('BAD_REQUEST', 'The Parameters body has no "resource" parameter', ['Parameters.parameter']);
    }
  }
  if (profile !== undefined) {
    if (!Object.values({ ...PROFILE_URLS, ...MHD_PROFILE_URLS }).includes(profile.split('|')[0])) {
      throw new FhirError('BAD_REQUEST', `$validate checks against the server's own profiles only (${[...Object.values(PROFILE_URLS), ...Object.values(MHD_PROFILE_URLS)].join(', ')}), not ${profile}`, ['profile']);
    }
    if (body && typeof body === 'object') {
      body = { ...body, meta: { ...body.meta, profile: [...(body.meta?.profile ?? []), profile] } } as Resource;
    }
  }
  prepareWrite(type, body, (body as Resource | undefined)?.id);
  return { status: 200, resource: informational(`The ${type} is valid${profile ? ` against ${profile}` : ''}`) };
}
