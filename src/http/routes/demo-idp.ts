import express, { type NextFunction, type Request, type Response } from 'express';
import { currentContext } from '../../context/request-context.js';
import type { DemoIdentityProvider, InteractionResult, JsonResult } from '../../auth/demo-idp/provider.js';
import { errorPage, loginPage } from '../../auth/demo-idp/pages.js';
import { PAGE_CSP } from '../../auth/html.js';

const FORM_LIMIT = '64kb';

/**
 * The demo OpenID Connect provider over HTTP (mounted at `/demo-idp` when no upstream provider is
 * configured): discovery, the login page, the form post, token, userinfo and JWKS.
 */
export function demoIdpRoutes(provider: DemoIdentityProvider): express.Router {
  const router = express.Router();
  // Form bodies are read as text and parsed with URLSearchParams, which keeps repeated parameters.
  const form = express.text({ type: 'application/x-www-form-urlencoded', limit: FORM_LIMIT });

  router.get('/.well-known/openid-configuration', (_req, res) => {
    res.json(provider.discovery());
  });
  router.get('/jwks', handle(async (_req, res) => {
    res.type('application/jwk-set+json').send(JSON.stringify(await provider.jwks()));
  }, 'json'));
  router.get('/authorize', handle(async (req, res) => {
    interaction(res, await provider.authorize(queryOf(req)));
  }, 'html'));
  router.post('/authorize', form, handle(async (req, res) => {
    interaction(res, await provider.authorize(formOf(req)));
  }, 'html'));
  router.post('/login', form, handle(async (req, res) => {
    interaction(res, await provider.login(formOf(req)));
  }, 'html'));
  router.post('/token', form, handle(async (req, res) => {
    json(res, await provider.token(formOf(req), req.header('authorization')));
  }, 'json'));
  router.get('/userinfo', handle(async (req, res) => {
    json(res, await provider.userinfo(req.header('authorization')));
  }, 'json'));
  router.post('/userinfo', form, handle(async (req, res) => {
    json(res, await provider.userinfo(req.header('authorization')));
  }, 'json'));
  return router;
}

function queryOf(req: Request): URLSearchParams {
  const at = req.originalUrl.indexOf('?');
  return new URLSearchParams(at >= 0 ? req.originalUrl.slice(at + 1) : '');
}

function formOf(req: Request): URLSearchParams {
  return new URLSearchParams(typeof req.body === 'string' ? req.body : '');
}

function interaction(res: Response, result: InteractionResult): void {
  switch (result.kind) {
    case 'redirect':
      res.redirect(302, result.location);
      return;
    case 'login':
      sendPage(res, result.status, loginPage(result));
      return;
    case 'error-page':
      sendPage(res, result.status, errorPage(result.message));
      return;
  }
}

function sendPage(res: Response, status: number, page: string): void {
  res.setHeader('Content-Security-Policy', PAGE_CSP);
  res.status(status).type('text/html; charset=utf-8').send(page);
}

function json(res: Response, result: JsonResult): void {
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    res.setHeader(name, value);
  }
  res.status(result.status).json(result.body);
}

/** Runs a handler; a failure becomes an error page or an OAuth `server_error`, logged without request data. */
function handle(fn: (req: Request, res: Response) => Promise<void>, kind: 'html' | 'json') {
  return async (req: Request, res: Response, _next: NextFunction): Promise<void> => {
    try {
      await fn(req, res);
    } catch (err) {
      currentContext()?.logger.error({ err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'demo identity provider error');
      if (res.headersSent) {
        res.end();
      } else if (kind === 'html') {
        sendPage(res, 500, errorPage('Erreur interne du fournisseur d’identité de démonstration.'));
      } else {
        res.status(500).json({ error: 'server_error', error_description: 'internal error' });
      }
    }
  };
}
