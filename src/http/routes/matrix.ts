import { createHash } from 'node:crypto';
import fs from 'node:fs';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { ConceptMap } from '@medplum/fhirtypes';
import { FhirError } from '../../fhir/outcomes.js';
import { HabilitationMatrix, HabilitationMatrixError } from '../../policy/habilitation-matrix.js';
import { FHIR_JSON, firstQuery, isXmlFormat, negotiateRequest } from '../negotiation.js';
import { writeResource } from '../write-resource.js';

/** The id the habilitation matrix is served under, whatever the id in the configured file. */
export const MATRIX_CONCEPT_MAP_ID = 'dmp-habilitation-matrix';
/** Its path under /fhir. */
export const MATRIX_PATH = `/ConceptMap/${MATRIX_CONCEPT_MAP_ID}`;

const ALLOWED = 'GET, HEAD';

/** The configured matrix file as the ConceptMap the server serves: its own id, a content-hash version. */
export interface ServedMatrix {
  readonly resource: ConceptMap;
  /** Weak ETag (`W/"<versionId>"`), the versionId being a hash of the file's content. */
  readonly etag: string;
  readonly lastModified: Date;
}

/**
 * Reads the matrix file once, checks it is a usable matrix (the same check as at startup) and
 * prepares the ConceptMap to serve. Throws HabilitationMatrixError on a bad file.
 */
export function readServedMatrix(matrixFile: string): ServedMatrix {
  let text: string;
  let stat: fs.Stats;
  try {
    text = fs.readFileSync(matrixFile, 'utf8');
    stat = fs.statSync(matrixFile);
  } catch (err) {
    throw new HabilitationMatrixError(matrixFile, `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let json: ConceptMap;
  try {
    json = JSON.parse(text) as ConceptMap;
  } catch (err) {
    throw new HabilitationMatrixError(matrixFile, `is not JSON (${(err as Error).message})`);
  }
  new HabilitationMatrix(json, matrixFile); // throws if not a usable matrix
  const versionId = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const lastModified = new Date(Math.floor(stat.mtimeMs / 1000) * 1000);
  const resource: ConceptMap = {
    ...json,
    id: MATRIX_CONCEPT_MAP_ID,
    meta: { ...json.meta, versionId, lastUpdated: lastModified.toISOString() },
  };
  return { resource, etag: `W/"${versionId}"`, lastModified };
}

/**
 * `GET /ConceptMap/dmp-habilitation-matrix` (mounted under /fhir, after `authenticate`): the
 * habilitation matrix the server enforces, read-only, with an ETag (If-None-Match → 304). Other
 * methods → 405. The file is read when the routes are built, as the policy reads it at startup.
 */
export function matrixRoutes(matrixFile: string): express.Router {
  const served = readServedMatrix(matrixFile);
  const body = JSON.stringify(served.resource);
  const prettyBody = JSON.stringify(served.resource, undefined, 2);
  const router = express.Router();
  router.get(MATRIX_PATH, (req: Request, res: Response, next: NextFunction) => {
    try {
      const format = negotiateRequest(req); // 406 for Turtle and the like
      res.setHeader('ETag', served.etag);
      res.setHeader('Last-Modified', served.lastModified.toUTCString());
      if (matchesEtag(req.header('if-none-match'), served.etag)) {
        res.status(304).end();
        return;
      }
      if (isXmlFormat(format)) {
        writeResource(res, 200, served.resource, format);
        return;
      }
      res.status(200).type(FHIR_JSON).send(firstQuery(req, '_pretty') === 'true' ? prettyBody : body);
    } catch (err) {
      next(err);
    }
  });
  router.all(MATRIX_PATH, (req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Allow', ALLOWED);
    next(new FhirError('METHOD_NOT_ALLOWED', `The habilitation matrix is read-only: ${req.method} is not allowed on ConceptMap/${MATRIX_CONCEPT_MAP_ID} (allowed: ${ALLOWED}); a deployment changes it with the setting HABILITATION_MATRIX_FILE`));
  });
  return router;
}

/** If-None-Match: `*` or a list of (weak or strong) tags, compared weakly (RFC 9110 §13.1.2). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) {
    return false;
  }
  const opaque = (tag: string): string => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === opaque(etag));
}
