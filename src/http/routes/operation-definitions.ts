import express, { type NextFunction, type Request, type Response } from 'express';
import { FhirError } from '../../fhir/outcomes.js';
import { serverOperationDefinition, SERVER_OPERATION_DEFINITIONS } from '../../fhir/operation-definitions.js';
import { negotiateRequest } from '../negotiation.js';
import { writeResource } from '../write-resource.js';

const ALLOWED = 'GET, HEAD';

/**
 * `GET /OperationDefinition/{id}` (mounted under /fhir, after `authenticate`): the definitions of the
 * server's own operations, read-only, in the negotiated format; other methods 405, other ids 404.
 */
export function operationDefinitionRoutes(): express.Router {
  const router = express.Router();
  router.get('/OperationDefinition/:id', (req: Request, res: Response, next: NextFunction) => {
    try {
      const format = negotiateRequest(req);
      const definition = serverOperationDefinition(String(req.params.id));
      if (!definition) {
        throw new FhirError('NOT_FOUND', `OperationDefinition/${String(req.params.id)} does not exist (served: ${SERVER_OPERATION_DEFINITIONS.map((d) => d.id).join(', ')})`);
      }
      writeResource(res, 200, definition, format);
    } catch (err) {
      next(err);
    }
  });
  router.all('/OperationDefinition/:id', (req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Allow', ALLOWED);
    next(new FhirError('METHOD_NOT_ALLOWED', `The server's OperationDefinitions are read-only: ${req.method} is not allowed (allowed: ${ALLOWED})`));
  });
  return router;
}
