import { FhirError } from './outcomes.js';
import { isSupportedType, type SupportedType } from './resource-types.js';
import type { FhirRequest, FhirResponse, HandlerContext, HttpMethod } from './types.js';
import { createHandler, deleteHandler, readHandler, updateHandler, vreadHandler } from './handlers/crud.handler.js';
import { historyHandler } from './handlers/history.handler.js';
import { searchHandler } from './handlers/search.handler.js';
import { validateHandler } from './handlers/validate.handler.js';
import { bundleHandler } from './handlers/bundle.handler.js';
import { metadataHandler } from './handlers/metadata.handler.js';
import { verifyAuditHandler } from './handlers/verify-audit.handler.js';
import { everythingHandler } from './handlers/everything.handler.js';
import { pilotageHandler } from './handlers/pilotage.handler.js';
import { closeHandler, destroyHandler, reopenHandler } from './handlers/dmp-lifecycle.handler.js';
import { conditionalPatchHandler, PATCHABLE_TYPES, patchHandler } from './handlers/patch.handler.js';
import { permissionFor, requireScope } from '../policy/scope-gate.js';
import { withAudit } from '../audit/audit-hook.js';

/** Path parameters captured by a route pattern. */
export interface RouteParams {
  readonly type: SupportedType;
  readonly id: string;
  readonly vid: string;
}

/** One FHIR interaction: method + path pattern → handler. This table also feeds the CapabilityStatement. */
export interface Route {
  readonly method: HttpMethod;
  /** Segments; `:type`, `:id`, `:vid` capture, anything else is literal. */
  readonly pattern: readonly string[];
  /** FHIR interaction code (CapabilityStatement restful-interaction), or an operation name. */
  readonly interaction: string;
  readonly level: 'system' | 'type' | 'instance';
  /** The types this route serves, when not all (others answer 405). */
  readonly types?: readonly SupportedType[];
  handle(ctx: HandlerContext, req: FhirRequest, p: RouteParams): Promise<FhirResponse>;
}

export const ROUTES: readonly Route[] = [
  { method: 'GET', pattern: ['metadata'], interaction: 'capabilities', level: 'system', handle: (ctx) => metadataHandler(ctx) },
  { method: 'POST', pattern: [], interaction: 'transaction', level: 'system', handle: (ctx, req) => bundleHandler(ctx, req) },
  // Before `:type`, which would otherwise take `$pilotage` for a type name.
  { method: 'GET', pattern: ['$pilotage'], interaction: '$pilotage', level: 'system', handle: (ctx, req) => pilotageHandler(ctx, req) },
  { method: 'POST', pattern: ['$pilotage'], interaction: '$pilotage', level: 'system', handle: (ctx, req) => pilotageHandler(ctx, req) },
  { method: 'GET', pattern: [':type'], interaction: 'search-type', level: 'type', handle: (ctx, req, p) => searchHandler(ctx, req, p.type) },
  { method: 'POST', pattern: [':type', '_search'], interaction: 'search-type', level: 'type', handle: (ctx, req, p) => searchHandler(ctx, req, p.type) },
  { method: 'POST', pattern: [':type'], interaction: 'create', level: 'type', handle: (ctx, req, p) => createHandler(ctx, req, p.type) },
  { method: 'POST', pattern: [':type', '$validate'], interaction: '$validate', level: 'type', handle: (_ctx, req, p) => validateHandler(req, p.type) },
  { method: 'GET', pattern: [':type', '_history'], interaction: 'history-type', level: 'type', handle: (ctx, req, p) => historyHandler(ctx, req, p.type) },
  { method: 'GET', pattern: [':type', ':id'], interaction: 'read', level: 'instance', handle: (ctx, req, p) => readHandler(ctx, req, p.type, p.id) },
  { method: 'PUT', pattern: [':type', ':id'], interaction: 'update', level: 'instance', handle: (ctx, req, p) => updateHandler(ctx, req, p.type, p.id) },
  { method: 'PATCH', pattern: [':type', ':id'], interaction: 'patch', level: 'instance', types: PATCHABLE_TYPES, handle: (ctx, req, p) => patchHandler(ctx, req, p.type, p.id) },
  { method: 'PATCH', pattern: [':type'], interaction: 'patch', level: 'type', types: PATCHABLE_TYPES, handle: (ctx, req, p) => conditionalPatchHandler(ctx, req, p.type) },
  { method: 'DELETE', pattern: [':type', ':id'], interaction: 'delete', level: 'instance', handle: (ctx, _req, p) => deleteHandler(ctx, p.type, p.id) },
  { method: 'GET', pattern: [':type', ':id', '_history'], interaction: 'history-instance', level: 'instance', handle: (ctx, req, p) => historyHandler(ctx, req, p.type, p.id) },
  { method: 'GET', pattern: [':type', ':id', '$everything'], interaction: '$everything', level: 'instance', handle: (ctx, req, p) => everythingHandler(ctx, req, p.type, p.id) },
  { method: 'POST', pattern: [':type', ':id', '$everything'], interaction: '$everything', level: 'instance', handle: (ctx, req, p) => everythingHandler(ctx, req, p.type, p.id) },
  { method: 'GET', pattern: [':type', ':id', '$verify-audit'], interaction: '$verify-audit', level: 'instance', handle: (ctx, _req, p) => verifyAuditHandler(ctx, p.type, p.id) },
  { method: 'POST', pattern: [':type', ':id', '$close'], interaction: '$close', level: 'instance', handle: (ctx, req, p) => closeHandler(ctx, req, p.type, p.id) },
  { method: 'POST', pattern: [':type', ':id', '$reopen'], interaction: '$reopen', level: 'instance', handle: (ctx, req, p) => reopenHandler(ctx, req, p.type, p.id) },
  { method: 'POST', pattern: [':type', ':id', '$destroy'], interaction: '$destroy', level: 'instance', handle: (ctx, req, p) => destroyHandler(ctx, req, p.type, p.id) },
  { method: 'GET', pattern: [':type', ':id', '_history', ':vid'], interaction: 'vread', level: 'instance', handle: (ctx, _req, p) => vreadHandler(ctx, p.type, p.id, p.vid) },
];

const RESERVED = new Set(['_search', '_history', 'metadata']);

function match(route: Route, segments: string[]): Record<string, string> | undefined {
  if (route.pattern.length !== segments.length) {
    return undefined;
  }
  const captured: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const want = route.pattern[i];
    if (want.startsWith(':')) {
      if (want !== ':type' && (RESERVED.has(segments[i]) || segments[i].startsWith('$'))) {
        return undefined;
      }
      captured[want.slice(1)] = segments[i];
    } else if (want !== segments[i]) {
      return undefined;
    }
  }
  return captured;
}

/** Routes a FHIR request to its handler; 404 for unknown paths or types, 405 for a known path with another method. */
export async function dispatch(ctx: HandlerContext, req: FhirRequest): Promise<FhirResponse> {
  const segments = req.path.split('/').filter((s) => s !== '');
  const candidates = ROUTES.map((route) => ({ route, params: match(route, segments) })).filter((c) => c.params);
  if (candidates.length === 0) {
    throw new FhirError('UNKNOWN_ROUTE', `No FHIR interaction at "${req.path}"`);
  }
  const found = candidates.find((c) => c.route.method === req.method);
  const params = (found ?? candidates[0]).params as Record<string, string>;
  if (params.type !== undefined && !isSupportedType(params.type)) {
    throw new FhirError('UNKNOWN_TYPE', `Resource type "${params.type}" is not served by this server`);
  }
  if (!found) {
    const allowed = candidates.map((c) => c.route.method).join(', ');
    throw new FhirError('METHOD_NOT_ALLOWED', `${req.method} is not supported on "${req.path}" (allowed: ${allowed})`);
  }
  if (found.route.types && !found.route.types.includes(params.type as SupportedType)) {
    throw new FhirError('METHOD_NOT_ALLOWED', `${req.method} is supported on ${found.route.types.join(', ')} only, not on ${params.type}`);
  }
  // The coarse SMART gate, on every interaction (transaction entries come back through here);
  // inside the audit so that a refusal is traced too.
  const permission = permissionFor(found.route.interaction);
  return withAudit(ctx, req, found.route.interaction, params.type, (c) => {
    if (permission && params.type !== undefined) {
      requireScope(c.principal, params.type as SupportedType, permission);
    }
    return found.route.handle(c, req, params as unknown as RouteParams);
  });
}
