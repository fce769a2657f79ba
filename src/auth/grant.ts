import type { AccessMode, ProfessionalIdentity, SystemRole } from '../policy/principal.js';

/** Who the user is, as established at login (never changes for the life of a grant). */
export type GrantSubject =
  | { readonly kind: 'practitioner'; readonly professional: ProfessionalIdentity }
  | { readonly kind: 'patient'; readonly patientId: string }
  | { readonly kind: 'system'; readonly role?: SystemRole };

/**
 * Everything an authorisation decided: stored with codes and refresh tokens, turned into access
 * tokens. `familyId` ties together every token descending from one authorisation, so reuse of a
 * code or refresh token can revoke them all.
 */
export interface Grant {
  readonly clientId: string;
  readonly subject: GrantSubject;
  readonly scope: string;
  readonly patientId?: string;
  readonly fhirUser?: string;
  readonly accessMode: AccessMode;
  readonly accessReason?: string;
  readonly needPatientBanner: boolean;
  readonly familyId: string;
  /** OIDC `sub` of the user (for the id_token). */
  readonly userSub?: string;
  readonly nonce?: string;
}
