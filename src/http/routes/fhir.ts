import express, { type NextFunction, type Request, type Response } from 'express';
import type { Binary, Resource } from '@medplum/fhirtypes';
import { currentContext } from '../../context/request-context.js';
import { dispatch } from '../../fhir/router.js';
import { FhirError } from '../../fhir/outcomes.js';
import { parsePrefer } from '../../fhir/prefer.js';
import { shapeForPrefer } from '../../fhir/response-shape.js';
import type { FhirRequest, FhirResponse, FhirSettings, HttpMethod } from '../../fhir/types.js';
import { ANONYMOUS } from '../../policy/principal.js';
import type { ResourceRepo } from '../../repo/resource-repo.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { DmpPolicy } from '../../policy/dmp-gate.js';
import { FHIR_JSON, isJsonContentType, negotiate, type ResponseFormat } from '../negotiation.js';

export interface FhirRouteDeps {
  readonly repo: ResourceRepo;
  readonly settings: FhirSettings;
  readonly maxBodyBytes: number;
  readonly audit: AuditWriter;
  readonly policy: DmpPolicy;
}

// Methods whose body is read. No route serves PATCH: its body is left unread so that the router
// answers 405 (a JSON Patch body would otherwise get a misleading 415).
const WRITE_METHODS = new Set(['POST', 'PUT']);

/** The `/fhir` endpoint: body parsing and negotiation, then the transport-free FHIR router. */
export function fhirRoutes(deps: FhirRouteDeps): express.Router {
  const router = express.Router();
  router.use(express.json({ type: (req) => isJsonContentType(req.headers['content-type']), limit: deps.maxBodyBytes }));
  router.use(express.urlencoded({ extended: false, limit: deps.maxBodyBytes }));
  router.use(express.raw({ type: (req) => isRawBinaryUpload(req as unknown as Request), limit: deps.maxBodyBytes }));
  router.use(async (req: Request, res: Response, next: NextFunction) => {
    try {
      const format = negotiate(firstQuery(req, '_format'), req.header('accept'));
      const fhirRequest = toFhirRequest(req);
      const response = await dispatch(
        {
          repo: deps.repo,
          principal: currentContext()?.principal ?? ANONYMOUS,
          settings: deps.settings,
          audit: deps.audit,
          policy: deps.policy,
          requestId: currentContext()?.requestId,
        },
        fhirRequest
      );
      send(res, deps.settings, response, fhirRequest, format);
    } catch (err) {
      next(err);
    }
  });
  return router;
}

function firstQuery(req: Request, key: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[key];
  return Array.isArray(v) ? String(v[0]) : typeof v === 'string' ? v : undefined;
}

function isBinaryPath(path: string): boolean {
  return /^\/Binary(\/[^/]+)?\/?$/.test(path);
}

/** A Binary create/update sent as its own bytes (any non-JSON, non-form content type). */
function isRawBinaryUpload(req: Request): boolean {
  const type = req.headers['content-type'];
  return isBinaryPath(req.path) && !!type && !isJsonContentType(type) && !type.startsWith('application/x-www-form-urlencoded');
}

function toFhirRequest(req: Request): FhirRequest {
  const query: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(req.query as Record<string, unknown>)) {
    query[k] = (Array.isArray(v) ? v : [v]).map(String);
  }
  let body: unknown = undefined;
  if (WRITE_METHODS.has(req.method) && req.headers['content-length'] !== '0' && (req.headers['content-length'] || req.headers['transfer-encoding'])) {
    body = readBody(req, query);
  }
  return {
    method: req.method as HttpMethod,
    path: req.path.replace(/^\//, ''),
    query,
    body,
    headers: {
      ifMatch: req.header('if-match'),
      ifNoneExist: req.header('if-none-exist'),
      ifNoneMatch: req.header('if-none-match'),
      ifModifiedSince: req.header('if-modified-since'),
      prefer: req.header('prefer'),
    },
  };
}

function readBody(req: Request, query: Record<string, string[]>): unknown {
  const type = req.headers['content-type'] ?? '';
  if (isJsonContentType(type)) {
    return req.body;
  }
  if (type.startsWith('application/x-www-form-urlencoded') && req.path.endsWith('/_search')) {
    for (const [k, v] of Object.entries(req.body as Record<string, string | string[]>)) {
      (query[k] ??= []).push(...(Array.isArray(v) ? v : [v]));
    }
    return undefined;
  }
  if (isRawBinaryUpload(req) && Buffer.isBuffer(req.body)) {
    const id = req.path.split('/')[2];
    const binary: Binary = { resourceType: 'Binary', ...(id ? { id } : {}), contentType: type.trim(), data: req.body.toString('base64') };
    return binary;
  }
  throw new FhirError('UNSUPPORTED_MEDIA_TYPE', `Content-Type "${type || 'none'}" is not accepted here: send application/fhir+json`, ['Content-Type']);
}

function send(res: Response, settings: FhirSettings, response: FhirResponse, req: FhirRequest, format: ResponseFormat): void {
  if (response.versionId) {
    res.setHeader('ETag', `W/"${response.versionId}"`);
  }
  if (response.lastUpdated) {
    res.setHeader('Last-Modified', new Date(response.lastUpdated).toUTCString());
  }
  if (response.location) {
    res.setHeader('Location', `${settings.fhirBase}/${response.location}`);
  }
  if (response.status === 304) {
    res.status(304).end();
    return;
  }
  const resource = response.resource;
  if (resource?.resourceType === 'Binary' && req.method === 'GET' && format === 'any') {
    sendRawBinary(res, response.status, resource as Binary);
    return;
  }
  const shaped = shapeForPrefer(response, parsePrefer(req.headers.prefer).return);
  res.status(response.status);
  if (!shaped.resource) {
    res.end();
    return;
  }
  const pretty = req.query._pretty?.[0] === 'true';
  res.type(FHIR_JSON).send(JSON.stringify(shaped.resource as Resource, undefined, pretty ? 2 : undefined));
}

/** A Binary as its own bytes and content type, when the client did not ask for FHIR JSON. */
function sendRawBinary(res: Response, status: number, binary: Binary): void {
  const bytes = Buffer.from(binary.data ?? '', 'base64');
  res.status(status);
  res.setHeader('Content-Type', binary.contentType || 'application/octet-stream');
  res.setHeader('Content-Length', String(bytes.length));
  res.end(bytes);
}
