/** The caller of a request, as the authorisation layer resolved it. */
export type Principal =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'system'; readonly clientId: string };

export const ANONYMOUS: Principal = { kind: 'anonymous' };
