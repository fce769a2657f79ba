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
import { assertDocumentSizes } from '../../fhir/document-size.js';
import { readBinaryContent } from '../../repo/binary-content.js';
import { streamBinary } from '../binary-stream.js';

export interface FhirRouteDeps {
  readonly repo: ResourceRepo;
  readonly settings: FhirSettings;
  readonly maxBodyBytes: number;
  /** Largest document (decoded Binary content, attachment data); also the body limit of a raw Binary upload. */
  readonly binaryMaxBytes: number;
  readonly audit: AuditWriter;
  readonly policy: DmpPolicy;
}

// Methods whose body is read.
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** The `/fhir` endpoint: body parsing and negotiation, then the transport-free FHIR router. */
export function fhirRoutes(deps: FhirRouteDeps): express.Router {
  const router = express.Router();
  // Reads a Binary without its bytes, which are then streamed after the decision and the audit.
  const streamingRepo = deps.repo.withDeferredBinaryBytes();
  router.use(express.json({ type: (req) => isJsonContentType(req.headers['content-type']) || isJsonPatchContentType(req.headers['content-type']), limit: deps.maxBodyBytes }));
  router.use(express.text({ type: (req) => isXmlContentType(req.headers['content-type']) && !isBinaryPath((req as unknown as Request).path), limit: deps.maxBodyBytes }));
  router.use(express.urlencoded({ extended: false, limit: deps.maxBodyBytes }));
  router.use(rawBinaryParser(deps.binaryMaxBytes));
  router.use(async (req: Request, res: Response, next: NextFunction) => {
    try {
      const format = negotiateRequest(req);
      const fhirRequest = toFhirRequest(req);
      if (fhirRequest.body !== undefined) {
        assertDocumentSizes(fhirRequest.body, deps.binaryMaxBytes);
      }
      // A Binary read that may be answered with its own bytes.
      const streamable = req.method === 'GET' && isBinaryReadPath(req.path) && (format === 'any' || format === 'xml');
      const response = await dispatch(
        {
          repo: streamable ? streamingRepo : deps.repo,
          principal: currentContext()?.principal ?? ANONYMOUS,
          settings: deps.settings,
          audit: deps.audit,
          policy: deps.policy,
          requestId: currentContext()?.requestId,
        },
        fhirRequest
      );
      if (streamable && response.resource?.resourceType === 'Binary') {
        await sendStoredBinary(res, deps, response, fhirRequest, format);
        return;
      }
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

/** `/Binary/{id}` or `/Binary/{id}/_history/{vid}` (read and vread). */
function isBinaryReadPath(path: string): boolean {
  return /^\/Binary\/[^/_$][^/]*(\/_history\/[^/]+)?\/?$/.test(path);
}

/**
 * The body parser of a raw Binary upload, whose limit is the document limit (the body is the
 * document): above it, 413 BINARY_TOO_LARGE rather than the generic body limit's answer.
 */
function rawBinaryParser(maxBytes: number): express.RequestHandler {
  const parse = express.raw({ type: (req) => isRawBinaryUpload(req as unknown as Request), limit: maxBytes });
  return (req, res, next) =>
    parse(req, res, (err?: unknown) => {
      if ((err as { type?: string } | undefined)?.type === 'entity.too.large') {
        next(new FhirError('BINARY_TOO_LARGE', `The document sent is larger than this server accepts (at most ${maxBytes} bytes)`, ['Binary']));
        return;
      }
      next(err);
    });
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

/**
 * A Binary read through the deferred repository (its bytes still in the database): streamed as
 * its own bytes, or, when a FHIR format is wanted after all (a generic XML Accept for a non-XML
 * Binary), loaded whole into the resource.
 */
async function sendStoredBinary(res: Response, deps: FhirRouteDeps, response: FhirResponse, req: FhirRequest, format: ResponseFormat): Promise<void> {
  const binary = response.resource as Binary;
  const versionId = Number(response.versionId);
  if (wantsRawBinary(format, binary)) {
    setVersionHeaders(res, response);
    await streamBinary(res, deps.repo.queryable, response.status, binary, versionId);
    return;
  }
  const bytes = await readBinaryContent(deps.repo.queryable, binary.id ?? '', versionId);
  send(res, deps.settings, { ...response, resource: { ...binary, ...(bytes ? { data: bytes.toString('base64') } : {}) } }, req, format);
}

function setVersionHeaders(res: Response, response: FhirResponse): void {
  if (response.versionId) {
    res.setHeader('ETag', `W/"${response.versionId}"`);
  }
  if (response.lastUpdated) {
    res.setHeader('Last-Modified', new Date(response.lastUpdated).toUTCString());
  }
}

function send(res: Response, settings: FhirSettings, response: FhirResponse, req: FhirRequest, format: ResponseFormat): void {
  setVersionHeaders(res, response);
  if (response.location) {
    res.setHeader('Location', `${settings.fhirBase}/${response.location}`);
  }
  if (response.status === 304) {
    res.status(304).end();
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
