import type { NextFunction, Request, Response } from 'express';
import { currentContext } from '../../context/request-context.js';
import { CATALOGUE, FhirError, outcomeOf } from '../../fhir/outcomes.js';
import { UnauthorizedError } from './authenticate.js';
import { negotiateRequest, type ResponseFormat } from '../negotiation.js';
import { writeResource } from '../write-resource.js';

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

/** Turns anything thrown into an OperationOutcome with the right status; a 500 never shows internals. */
export function toFhirError(err: unknown): FhirError {
  if (err instanceof FhirError) {
    return err;
  }
  const e = err as BodyParserError;
  switch (e?.type) {
    case 'entity.parse.failed':
      return new FhirError('MALFORMED_BODY', `The body is not valid JSON: ${(err as Error).message}`);
    case 'entity.too.large':
      return new FhirError('BODY_TOO_LARGE', `The body is larger than the limit of ${e.limit} bytes`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new FhirError('UNSUPPORTED_MEDIA_TYPE', 'Unsupported body encoding or charset: send UTF-8');
    case 'request.aborted':
      return new FhirError('BAD_REQUEST', 'The request was aborted by the client');
    default:
      return new FhirError('INTERNAL', 'Internal server error; the request id identifies it in the server logs');
  }
}

export function errorHandler(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  const fhirError = toFhirError(err);
  if (fhirError.status >= 500) {
    // Only the error's message and stack: never the request body, headers or query.
    currentContext()?.logger.error({ err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'unhandled error');
  }
  if (res.headersSent) {
    res.end();
    return;
  }
  if (fhirError instanceof UnauthorizedError) {
    res.setHeader('WWW-Authenticate', fhirError.challenge);
  } else if (fhirError.outcome.issue[0]?.details?.coding?.[0]?.code === CATALOGUE.INSUFFICIENT_SCOPE.id) {
    res.setHeader('WWW-Authenticate', 'Bearer error="insufficient_scope"');
  }
  writeResource(res, fhirError.status, fhirError.outcome, errorFormat(req, fhirError));
}

/**
 * FHIR errors follow the negotiated format (XML when XML was asked); a 406, a request whose
 * format cannot be negotiated and anything outside /fhir get JSON.
 */
function errorFormat(req: Request, err: FhirError): ResponseFormat {
  if (!req.originalUrl.startsWith('/fhir') || err.outcome.issue[0]?.details?.coding?.[0]?.code === CATALOGUE.NOT_ACCEPTABLE.id) {
    return 'fhir-json';
  }
  try {
    return negotiateRequest(req);
  } catch {
    return 'fhir-json';
  }
}

/** 404 OperationOutcome for any path outside the served ones. */
export function notFound(req: Request, res: Response): void {
  writeResource(res, 404, outcomeOf('UNKNOWN_ROUTE', `Nothing is served at ${req.method} ${req.path}`), 'fhir-json');
}
