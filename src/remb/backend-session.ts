/**
 * A SMART Backend Services session with the server, as a client over HTTP: client_credentials with
 * a signed client assertion (RFC 7523), a fresh token before the current one expires (backend tokens
 * live at most 5 minutes), and FHIR JSON requests. Fatal problems (server unreachable, token refused,
 * scopes missing) throw `FeedFatalError`; FHIR answers, good or bad, are returned to the caller.
 */
import type { JWK } from 'jose';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { signClientAssertion } from '../auth/client-admin.js';

/** The import cannot go on (the command exits with code 1). */
export class FeedFatalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeedFatalError';
  }
}

export interface SessionOptions {
  /** The server's base URL (the FHIR base is `<baseUrl>/fhir`, the token endpoint `<baseUrl>/auth/token`). */
  readonly baseUrl: string;
  readonly clientId: string;
  readonly privateJwk: JWK;
  /** The scopes asked for; every one must be granted. */
  readonly scope: string;
}

export interface FhirAnswer<T = unknown> {
  readonly status: number;
  readonly body: T;
}

/** A token is renewed when it has less than this left. */
const RENEW_MARGIN_MS = 30_000;
const FHIR_JSON = 'application/fhir+json';

export class BackendSession {
  private token?: { value: string; expiresAt: number };

  constructor(private readonly opts: SessionOptions) {}

  get fhirBase(): string {
    return `${this.opts.baseUrl.replace(/\/+$/, '')}/fhir`;
  }

  /** Gets a token now (so a refused client is known before any work), then keeps it fresh. */
  async connect(): Promise<void> {
    await this.accessToken(true);
  }

  /** A FHIR request (path relative to the FHIR base); a 401 gets one new token and one retry. */
  async fhir<T = unknown>(method: string, path: string, body?: unknown, contentType = FHIR_JSON): Promise<FhirAnswer<T>> {
    let res = await this.send(method, path, body, contentType, await this.accessToken(false));
    if (res.status === 401) {
      res = await this.send(method, path, body, contentType, await this.accessToken(true));
      if (res.status === 401) {
        throw new FeedFatalError(`the server refuses the access token (401) for ${method} ${path}: ${outcomeText(await readJson(res))}`);
      }
    }
    return { status: res.status, body: (await readJson(res)) as T };
  }

  private async send(method: string, path: string, body: unknown, contentType: string, token: string): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: FHIR_JSON };
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = contentType;
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    try {
      return await fetch(this.urlOf(path), { method, headers, body: payload });
    } catch (err) {
      throw unreachable(this.fhirBase, err);
    }
  }

  /**
   * A path relative to the FHIR base, or a link the server wrote (paging): a link is followed
   * under our base URL, which is the one that reaches the server from here (BASE_URL may be a proxy's).
   */
  private urlOf(path: string): string {
    const relative = /^https?:\/\//.test(path) ? path.replace(/^.*?\/fhir(?:\/|$)/, '') : path.replace(/^\//, '');
    return relative === '' ? this.fhirBase : `${this.fhirBase}/${relative}`;
  }

  private async accessToken(renew: boolean): Promise<string> {
    if (!renew && this.token && this.token.expiresAt - Date.now() > RENEW_MARGIN_MS) {
      return this.token.value;
    }
    const tokenUrl = `${this.opts.baseUrl.replace(/\/+$/, '')}/auth/token`;
    const assertion = await signClientAssertion({ clientId: this.opts.clientId, privateJwk: this.opts.privateJwk, audience: tokenUrl });
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: this.opts.scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    let res: Response;
    try {
      res = await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    } catch (err) {
      throw unreachable(tokenUrl, err);
    }
    const answer = (await readJson(res)) as { access_token?: string; expires_in?: number; scope?: string; error?: string; error_description?: string };
    if (res.status !== 200 || typeof answer.access_token !== 'string') {
      const why = answer.error ? `${answer.error}${answer.error_description ? `: ${answer.error_description}` : ''}` : `HTTP ${res.status}`;
      throw new FeedFatalError(`the server refuses a token to client ${this.opts.clientId} (${why})`);
    }
    const granted = new Set((answer.scope ?? '').split(/\s+/));
    const missing = this.opts.scope.split(/\s+/).filter((s) => s && !granted.has(s));
    if (missing.length > 0) {
      throw new FeedFatalError(`client ${this.opts.clientId} is not granted ${missing.join(' ')} (granted: ${answer.scope ?? 'nothing'}); register it with these scopes`);
    }
    this.token = { value: answer.access_token, expiresAt: Date.now() + (answer.expires_in ?? 60) * 1000 };
    return this.token.value;
  }
}

/** The texts of an OperationOutcome (or whatever the server answered), on one line. */
export function outcomeText(body: unknown): string {
  const outcome = body as OperationOutcome | undefined;
  if (outcome?.resourceType === 'OperationOutcome') {
    return outcome.issue.map((i) => i.details?.text ?? i.diagnostics ?? i.code).join('; ');
  }
  return typeof body === 'string' ? body.slice(0, 300) : JSON.stringify(body ?? null).slice(0, 300);
}

async function readJson(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function unreachable(url: string, err: unknown): FeedFatalError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return new FeedFatalError(`cannot reach the server at ${url} (${cause?.code ?? cause?.message ?? (err as Error).message})`);
}
