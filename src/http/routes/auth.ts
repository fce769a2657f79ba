import express, { type NextFunction, type Request, type Response } from 'express';
import { authorizeEndpoint, callbackEndpoint, pickPatientEndpoint, type AuthResult, type IdentityResolver, type UpstreamLogin } from '../../auth/authorize.handler.js';
import { openidConfiguration, smartConfiguration } from '../../auth/discovery.js';
import { introspectEndpoint, launchEndpoint, revokeEndpoint } from '../../auth/endpoints.js';
import { PAGE_CSP } from '../../auth/html.js';
import { OAuthError } from '../../auth/oauth-errors.js';
import { pickPatientPage } from '../../auth/picker.js';
import type { AuthServices } from '../../auth/services.js';
import { tokenEndpoint } from '../../auth/token.handler.js';
import { InvalidTokenError } from '../../auth/token-service.js';
import { currentContext } from '../../context/request-context.js';

export interface AuthRouteDeps {
  readonly services: AuthServices;
  readonly upstream: UpstreamLogin;
  readonly resolveIdentity: IdentityResolver;
  readonly secureCookies: boolean;
}

const BROWSER_COOKIE = 'dmp_auth';

type Form = Record<string, string | undefined>;

/** The SMART authorisation server's HTTP surface: discovery, /auth/* endpoints. */
export function authRoutes(deps: AuthRouteDeps): express.Router {
  const s = deps.services;
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '64kb' });

  router.get('/.well-known/openid-configuration', (_req, res) => sendJson(res, 200, openidConfiguration(s.urls)));
  router.get('/fhir/.well-known/smart-configuration', (_req, res) => sendJson(res, 200, smartConfiguration(s.urls)));
  router.get('/auth/jwks', async (_req, res, next) => {
    try {
      sendJson(res, 200, await s.keys.jwks('server'));
    } catch (err) {
      next(err);
    }
  });

  const authorize = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      const params = { ...(req.query as Form), ...((req.body ?? {}) as Form) };
      sendResult(res, await authorizeEndpoint(s, deps.upstream, params), deps.secureCookies);
    } catch (err) {
      next(err);
    }
  };
  router.get('/auth/authorize', authorize);
  router.post('/auth/authorize', form, authorize);

  router.get('/auth/callback', async (req, res, next) => {
    try {
      const url = new URL(req.originalUrl, s.urls.issuer);
      sendResult(res, await callbackEndpoint(s, deps.upstream, deps.resolveIdentity, url, cookie(req)), deps.secureCookies);
    } catch (err) {
      next(err);
    }
  });
  router.get('/auth/pick-patient', async (req, res, next) => {
    try {
      sendResult(res, await pickPatientPage(s, String(req.query.request ?? ''), req.query.q as string | undefined, cookie(req)), deps.secureCookies);
    } catch (err) {
      next(err);
    }
  });
  router.post('/auth/pick-patient', form, async (req, res, next) => {
    try {
      const body = req.body as Form;
      sendResult(res, await pickPatientEndpoint(s, body.request ?? '', body.patient ?? '', cookie(req)), deps.secureCookies);
    } catch (err) {
      next(err);
    }
  });

  router.post('/auth/token', form, oauthJson((req) => tokenEndpoint(s, req.body as Form, req.header('authorization'))));
  router.post('/auth/introspect', form, oauthJson((req) => introspectEndpoint(s, req.body as Form, req.header('authorization'))));
  router.post('/auth/revoke', form, oauthJson(async (req) => {
    await revokeEndpoint(s, req.body as Form, req.header('authorization'));
    return {};
  }));
  router.post('/auth/launch', express.json({ limit: '16kb' }), oauthJson(async (req) => {
    const token = /^Bearer\s+(\S+)$/i.exec(req.header('authorization') ?? '')?.[1];
    if (!token) {
      throw new OAuthError('invalid_token', 'A bearer access token of a registered client is required', 401);
    }
    const caller = await s.tokens.verifyAccessToken(token).catch((err: unknown) => {
      throw err instanceof InvalidTokenError ? new OAuthError('invalid_token', err.message, 401) : err;
    });
    return launchEndpoint(s, caller, req.body);
  }));
  return router;
}

/** JSON OAuth endpoint: no caching (SMART SHALL), errors as `{error, error_description}`. */
function oauthJson(fn: (req: Request) => Promise<object>) {
  return async (req: Request, res: Response): Promise<void> => {
    try {
      sendJson(res, 200, await fn(req));
    } catch (err) {
      if (err instanceof OAuthError) {
        if (err.status === 401) {
          res.setHeader('WWW-Authenticate', err.error === 'invalid_token' ? 'Bearer error="invalid_token"' : 'Basic realm="token"');
        }
        sendJson(res, err.status, err.toJSON());
        return;
      }
      currentContext()?.logger.error({ err: (err as Error)?.message }, 'oauth endpoint failed');
      sendJson(res, 500, { error: 'server_error', error_description: 'Internal error; the request id identifies it in the server logs' });
    }
  };
}

function sendJson(res: Response, status: number, body: object): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  res.status(status).type('application/json').send(JSON.stringify(body));
}

function sendResult(res: Response, result: AuthResult, secure: boolean): void {
  if (result.kind === 'page') {
    // The pages' own CSP: the API's `default-src 'none'` would block their stylesheet.
    res.setHeader('Content-Security-Policy', PAGE_CSP);
    res.status(result.status).type('html').send(result.html);
    return;
  }
  if (result.browserSecret) {
    // Binds the login to this browser: the callback and the patient picker check it.
    res.cookie(BROWSER_COOKIE, result.browserSecret, { httpOnly: true, sameSite: 'lax', secure, path: '/auth', maxAge: 600_000 });
  }
  res.redirect(302, result.url);
}

function cookie(req: Request): string | undefined {
  const header = req.header('cookie') ?? '';
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === BROWSER_COOKIE) {
      return decodeURIComponent(v.join('='));
    }
  }
  return undefined;
}
