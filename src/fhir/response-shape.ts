import type { Preferences } from './prefer.js';
import type { FhirResponse } from './types.js';
import { informational } from './outcomes.js';

/** Applies `Prefer: return=` to a create/update result: minimal drops the body, OperationOutcome replaces it. */
export function shapeForPrefer(response: FhirResponse, preference: Preferences['return']): FhirResponse {
  if (!response.preferApplies || !preference || preference === 'representation') {
    return response;
  }
  if (preference === 'minimal') {
    return { ...response, resource: undefined };
  }
  const what = response.resource ? `${response.resource.resourceType}/${response.resource.id}` : 'resource';
  return { ...response, resource: informational(`${what} ${response.status === 201 ? 'created' : 'stored'} (version ${response.versionId})`) };
}
