import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { runWithContext } from '../../context/request-context.js';
import type { Logger } from '../../logging/logger.js';
import { ANONYMOUS } from '../../policy/principal.js';

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Gives each request an id (the client's X-Request-Id when sane), a child logger and a context,
 * and writes one access-log line when the response finishes. Never logs query strings (they can
 * carry names or INS), bodies or headers.
 */
export function requestContext(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const incoming = req.header('x-request-id');
    const requestId = incoming && REQUEST_ID_RE.test(incoming) ? incoming : randomUUID();
    const log = logger.child({ requestId });
    const started = process.hrtime.bigint();
    res.setHeader('X-Request-Id', requestId);
    res.locals.requestId = requestId;
    res.on('finish', () => {
      log.info(
        {
          method: req.method,
          // originalUrl: req.path lost the mount point (/fhir) by now; the query string is cut off.
          path: req.originalUrl.split('?')[0],
          status: res.statusCode,
          durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'request'
      );
    });
    runWithContext({ requestId, logger: log, principal: ANONYMOUS }, next);
  };
}
