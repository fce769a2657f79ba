import { createHash, randomBytes } from 'node:crypto';

/** A random URL-safe secret (codes, launches, refresh tokens, request ids): 256 bits. */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** SHA-256 of a secret: what the database keeps instead of the secret itself. */
export function secretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/** PKCE S256 transform (RFC 7636). */
export function pkceS256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}
