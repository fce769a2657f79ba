import type { ClinicalScope } from '../auth/scopes.js';

/** DMP access modes (TRE_R248_ModeAcces). */
export type AccessMode = 'normal' | 'bris_de_glace' | 'centre_15';

export const ACCESS_MODES: readonly AccessMode[] = ['normal', 'bris_de_glace', 'centre_15'];

/** A health professional as the upstream identity provider (Pro Santé Connect) described them. */
export interface ProfessionalIdentity {
  /** National professional id (IdNat_PS, `8` + RPPS). */
  readonly nationalId: string;
  readonly practitionerId: string;
  /** TRE_G15 profession code, e.g. `10` médecin. */
  readonly profession?: string;
  /** TRE_R38 speciality (savoir-faire), e.g. `SM54`. */
  readonly speciality?: string;
  /** Structure id of the activity the professional acts in. */
  readonly structure?: string;
  /** SAMU regulator (`Acces_Regulation_Medicale`). */
  readonly regulator: boolean;
}

/**
 * What a system client (SMART Backend Services) is in the DMP, as its registration says (`dmp_role`):
 * - `insurer`: the health insurer's system (Assurance Maladie): opens DMPs, feeds reimbursement data,
 *   looks records up; never reads documents, consents or traces;
 * - `operator`: the host's own technical client (data migration, integration test benches): not
 *   held by the DMP rules, only by its scopes; every access is audited under its client id.
 * A system client registered without a role gets no DMP data at all (deny by default).
 */
export type SystemRole = 'insurer' | 'operator';

export const SYSTEM_ROLES: readonly SystemRole[] = ['insurer', 'operator'];

/** What the access token says beyond who: client, scopes, patient context, access mode. */
export interface TokenContext {
  readonly clientId: string;
  readonly scope: string;
  readonly scopes: readonly ClinicalScope[];
  /** Patient in context (launch or picked), the one `patient/` scopes are confined to. */
  readonly patientId?: string;
  readonly fhirUser?: string;
  readonly accessMode: AccessMode;
  readonly accessReason?: string;
  readonly jti: string;
}

/** The caller of a request, as the authorisation layer resolved it. */
export type Principal =
  | { readonly kind: 'anonymous' }
  /** The server itself (demo data, jobs): never reachable from HTTP. */
  | { readonly kind: 'internal' }
  | { readonly kind: 'practitioner'; readonly professional: ProfessionalIdentity; readonly token: TokenContext }
  | { readonly kind: 'patient'; readonly patientId: string; readonly token: TokenContext }
  | { readonly kind: 'system'; readonly role?: SystemRole; readonly token: TokenContext };

export type AuthenticatedPrincipal = Extract<Principal, { token: TokenContext }>;

export const ANONYMOUS: Principal = { kind: 'anonymous' };
export const INTERNAL: Principal = { kind: 'internal' };

export function isAuthenticated(p: Principal): p is AuthenticatedPrincipal {
  return 'token' in p;
}
