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
  | { readonly kind: 'system'; readonly token: TokenContext };

export type AuthenticatedPrincipal = Extract<Principal, { token: TokenContext }>;

export const ANONYMOUS: Principal = { kind: 'anonymous' };
export const INTERNAL: Principal = { kind: 'internal' };

export function isAuthenticated(p: Principal): p is AuthenticatedPrincipal {
  return 'token' in p;
}
