import type { CapabilityStatement, CapabilityStatementRest } from '@medplum/fhirtypes';
import { buildCapabilityStatement } from '../capability.js';
import { ROUTES } from '../router.js';
import type { FhirResponse, HandlerContext } from '../types.js';

let cached: CapabilityStatement | undefined;

const OAUTH_URIS = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';

/** `GET [base]/metadata`: the CapabilityStatement (built once per process), with this deployment's URLs. */
export async function metadataHandler(ctx: HandlerContext): Promise<FhirResponse> {
  cached ??= buildCapabilityStatement(ROUTES, new Date().toISOString());
  const base = ctx.settings.fhirBase.replace(/\/fhir$/, '');
  const rest = cached.rest?.[0] as CapabilityStatementRest;
  // SMART 2 makes .well-known/smart-configuration authoritative; the older extension still helps v1 clients.
  const security = {
    ...rest.security,
    extension: [
      {
        url: OAUTH_URIS,
        extension: [
          { url: 'authorize', valueUri: `${base}/auth/authorize` },
          { url: 'token', valueUri: `${base}/auth/token` },
          { url: 'introspect', valueUri: `${base}/auth/introspect` },
          { url: 'revoke', valueUri: `${base}/auth/revoke` },
        ],
      },
    ],
  };
  const statement = { ...cached, implementation: { description: 'DMP FHIR server', url: ctx.settings.fhirBase }, rest: [{ ...rest, security }] };
  return { status: 200, resource: statement };
}
