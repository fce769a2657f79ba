import express, { type Request, type Response } from 'express';
import { html, page, PAGE_CSP } from '../../auth/html.js';
import { DEMO_APP_ID } from '../../auth/demo-clients.js';

/** Path of the demo app's redirect URI (registered as `${BASE_URL}/demo-app/callback`). */
export const DEMO_APP_CALLBACK_PATH = '/demo-app/callback';

export interface DemoAppOptions {
  /** The server's public base URL (`config.baseUrl`); default: the origin the request came to. */
  readonly baseUrl?: string;
}

/** Quotes a value for a POSIX shell (single quotes; a single quote becomes '\''). */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The copy-paste exchange of the code at the token endpoint (the verifier stays a shell variable). */
export function tokenExchangeCurl(baseUrl: string, code: string): string {
  return [
    `curl -s -X POST ${shellQuote(`${baseUrl}/auth/token`)} \\`,
    `  -d grant_type=authorization_code \\`,
    `  --data-urlencode ${shellQuote(`code=${code}`)} \\`,
    `  --data-urlencode ${shellQuote(`redirect_uri=${baseUrl}${DEMO_APP_CALLBACK_PATH}`)} \\`,
    `  --data-urlencode ${shellQuote(`client_id=${DEMO_APP_ID}`)} \\`,
    `  --data-urlencode "code_verifier=$VERIFIER"`,
  ].join('\n');
}

/** The first value of a query parameter, if it is text. */
function param(req: Request, name: string): string | undefined {
  const value = req.query[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : undefined;
}

export interface CallbackModel {
  readonly baseUrl: string;
  readonly code?: string;
  readonly state?: string;
  readonly error?: string;
  readonly errorDescription?: string;
}

/** The landing page of the demo app: what the authorisation server sent back, and how to use it. */
export function callbackPage(m: CallbackModel): { status: number; html: string } {
  const state = m.state !== undefined ? html`<dt>state</dt><dd><code id="state">${m.state}</code></dd>` : '';
  if (m.error !== undefined) {
    const title = 'Autorisation refusée';
    return {
      status: 200,
      html: page(title, html`<h1>${title}</h1>
<p class="lead">Le serveur d’autorisation a renvoyé l’application de démonstration « ${DEMO_APP_ID} » avec une erreur.</p>
<div class="error" role="alert"><dl>
<dt>error</dt><dd><code id="error">${m.error}</code></dd>
${m.errorDescription !== undefined ? html`<dt>error_description</dt><dd id="error_description">${m.errorDescription}</dd>` : ''}
${state}
</dl></div>`),
    };
  }
  if (m.code === undefined) {
    const title = 'Aucun code reçu';
    return {
      status: 400,
      html: page(title, html`<h1>${title}</h1>
<p class="error" role="alert">Cette page est l’adresse de retour (redirect URI) de l’application de démonstration : le serveur d’autorisation y renvoie un paramètre <code>code</code> (ou <code>error</code>), absent ici.</p>`),
    };
  }
  const title = 'Connexion réussie : code d’autorisation reçu';
  return {
    status: 200,
    html: page(title, html`<h1>${title}</h1>
<p class="lead">Le serveur d’autorisation a renvoyé l’application de démonstration « ${DEMO_APP_ID} » avec un code à usage unique, valable quelques minutes.</p>
<dl>
<dt>code</dt><dd><code id="code">${m.code}</code></dd>
${state}
</dl>
<p>Pour l’échanger contre un jeton d’accès, mettez dans <code>VERIFIER</code> le <code>code_verifier</code> PKCE gardé par l’application qui a lancé la connexion (seule elle le connaît : le serveur n’a reçu que son empreinte S256, le <code>code_challenge</code>), puis :</p>
<pre id="curl">${tokenExchangeCurl(m.baseUrl, m.code)}</pre>`),
  };
}

/**
 * `GET /demo-app/callback`: the redirect URI of the demo public app (`demo-app`), so that a person
 * who logs in through it sees where they land. Mount at the root: `app.use(demoAppRoutes({ baseUrl }))`.
 */
export function demoAppRoutes(options: DemoAppOptions = {}): express.Router {
  const router = express.Router();
  router.get(DEMO_APP_CALLBACK_PATH, (req: Request, res: Response) => {
    const baseUrl = options.baseUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;
    const result = callbackPage({
      baseUrl,
      code: param(req, 'code'),
      state: param(req, 'state'),
      error: param(req, 'error'),
      errorDescription: param(req, 'error_description'),
    });
    // The shared pages' CSP: no script at all, only their stylesheet (by hash), no framing.
    res.setHeader('Content-Security-Policy', PAGE_CSP);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.status(result.status).type('text/html; charset=utf-8').send(result.html);
  });
  return router;
}
