import type { NextFunction, Request, Response } from 'express';
import { currentContext } from '../../context/request-context.js';
import { InvalidTokenError, type TokenService } from '../../auth/token-service.js';
import { FhirError } from '../../fhir/outcomes.js';

/** FHIR paths served without a token: the CapabilityStatement and the SMART discovery document. */
const PUBLIC_PATHS = new Set(['/metadata', '/.well-known/smart-configuration']);

/** 401 answers carry `WWW-Authenticate: Bearer` (RFC 6750 §3) with the reason when a token was sent. */
export class UnauthorizedError extends FhirError {
  constructor(
    text: string,
    readonly challenge: string
  ) {
    super('UNAUTHORIZED', text);
  }
}

/**
 * Every `/fhir` request but the public ones needs a valid bearer token (signature, issuer,
 * audience, expiry, not revoked); the principal it names goes into the request context.
 */
export function authenticate(tokens: TokenService, realm: string) {
  return async (req: Request, _res: Response, next: NextFunction): Promise<void> => {
    if (PUBLIC_PATHS.has(req.path) && req.method === 'GET') {
      next();
      return;
    }
    const header = req.header('authorization');
    const token = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
    if (!token) {
      next(new UnauthorizedError('A bearer access token is required (Authorization: Bearer <token>)', `Bearer realm="${realm}"`));
      return;
    }
    try {
      const principal = await tokens.verifyAccessToken(token);
      const ctx = currentContext();
      if (ctx) {
        ctx.principal = principal;
      }
      next();
    } catch (err) {
      if (err instanceof InvalidTokenError) {
        next(new UnauthorizedError(`Invalid access token: ${err.message}`, `Bearer realm="${realm}", error="invalid_token", error_description="${err.message}"`));
        return;
      }
      next(err);
    }
  };
}
