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
import { isJsonContentType, isXmlContentType, isXmlMediaType, negotiateRequest, type ResponseFormat } from '../negotiation.js';
import { writeResource } from '../write-resource.js';
import { isFhirResourceXml, xmlToResource } from '../../fhir/xml.js';
import { isJsonPatchContentType } from '../../fhir/patch/patch-body.js';

export interface FhirRouteDeps {
  readonly repo: ResourceRepo;
  readonly settings: FhirSettings;
  readonly maxBodyBytes: number;
  readonly audit: AuditWriter;
  readonly policy: DmpPolicy;
}

// Methods whose body is read.
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** The `/fhir` endpoint: body parsing and negotiation, then the transport-free FHIR router. */
export function fhirRoutes(deps: FhirRouteDeps): express.Router {
  const router = express.Router();
  router.use(express.json({ type: (req) => isJsonContentType(req.headers['content-type']) || isJsonPatchContentType(req.headers['content-type']), limit: deps.maxBodyBytes }));
  router.use(express.text({ type: (req) => isXmlContentType(req.headers['content-type']) && !isBinaryPath((req as unknown as Request).path), limit: deps.maxBodyBytes }));
  router.use(express.urlencoded({ extended: false, limit: deps.maxBodyBytes }));
  router.use(express.raw({ type: (req) => isRawBinaryUpload(req as unknown as Request), limit: deps.maxBodyBytes }));
  router.use(async (req: Request, res: Response, next: NextFunction) => {
    try {
      const format = negotiateRequest(req);
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

function isBinaryPath(path: string): boolean {
  return /^\/Binary(\/[^/]+)?\/?$/.test(path);
}

/**
 * A Binary create/update sent as its own bytes (any non-JSON, non-form content type). XML is
 * read raw too: it is a FHIR Binary only when its root says so (R4 binary.html), else a document.
 */
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
      contentType: req.header('content-type'),
    },
  };
}

function readBody(req: Request, query: Record<string, string[]>): unknown {
  const type = req.headers['content-type'] ?? '';
  if (isJsonContentType(type) || (req.method === 'PATCH' && isJsonPatchContentType(type))) {
    return req.body;
  }
  if (type.startsWith('application/x-www-form-urlencoded') && req.path.endsWith('/_search')) {
    for (const [k, v] of Object.entries(req.body as Record<string, string | string[]>)) {
      (query[k] ??= []).push(...(Array.isArray(v) ? v : [v]));
    }
    return undefined;
  }
  if (isXmlContentType(type) && typeof req.body === 'string') {
    return xmlToResource(req.body);
  }
  if (isRawBinaryUpload(req) && Buffer.isBuffer(req.body)) {
    if (isXmlContentType(type) && isFhirResourceXml(req.body.toString('utf8'), 'Binary')) {
      return xmlToResource(req.body.toString('utf8'));
    }
    const id = req.path.split('/')[2];
    const binary: Binary = { resourceType: 'Binary', ...(id ? { id } : {}), contentType: type.trim(), data: req.body.toString('base64') };
    return binary;
  }
  throw new FhirError('UNSUPPORTED_MEDIA_TYPE', `Content-Type "${type || 'none'}" is not accepted here: send application/fhir+json or application/fhir+xml`, ['Content-Type']);
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
  if (resource?.resourceType === 'Binary' && req.method === 'GET' && wantsRawBinary(format, resource as Binary)) {
    sendRawBinary(res, response.status, resource as Binary);
    return;
  }
  const shaped = shapeForPrefer(response, parsePrefer(req.headers.prefer).return);
  if (!shaped.resource) {
    res.status(response.status).end();
    return;
  }
  writeResource(res, response.status, shaped.resource as Resource, format, req.query._pretty?.[0] === 'true');
}

/**
 * A Binary is read as its own bytes unless a FHIR format is asked (R4 binary.html); a generic
 * XML Accept (application/xml, text/xml) still gets the bytes of an XML document (a CDA).
 */
function wantsRawBinary(format: ResponseFormat, binary: Binary): boolean {
  return format === 'any' || (format === 'xml' && isXmlMediaType(binary.contentType));
}

/** A Binary as its own bytes and content type, when the client did not ask for a FHIR format. */
function sendRawBinary(res: Response, status: number, binary: Binary): void {
  const bytes = Buffer.from(binary.data ?? '', 'base64');
  res.status(status);
  res.setHeader('Content-Type', binary.contentType || 'application/octet-stream');
  res.setHeader('Content-Length', String(bytes.length));
  res.end(bytes);
}
