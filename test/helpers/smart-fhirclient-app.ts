import http from 'node:http';
import { randomUUID } from 'node:crypto';
import express from 'express';
import smart from 'fhirclient';
import type { fhirclient } from 'fhirclient/lib/types.js';

/**
 * A SMART app written with SMART's own JavaScript client (`fhirclient`, its Node adapter on an
 * Express app), the way an app vendor would: `/launch` is the launch URL an EHR opens (with `iss`
 * and `launch`), `/app/callback` the redirect URI where `ready()` redeems the code. The app keeps
 * its sessions in memory behind an `app_sid` cookie; the tests read the resulting fhirclient
 * `Client` (token response, FHIR requests) from `clients`.
 */
export interface FhirclientApp {
  readonly baseUrl: string;
  readonly redirectUri: string;
  /** Set before launches: what the app registers as (client id, secret, scope). */
  configure(settings: { clientId: string; clientSecret: string; scope: string }): void;
  /** The fhirclient Client of each completed launch, by the `state` of its authorisation. */
  readonly clients: Map<string, SmartClient>;
  /** Errors `ready()` reported, by state (e.g. an `error=` redirect). */
  readonly errors: Map<string, string>;
  /** The OpenID Connect nonce the app sent, by state. */
  readonly nonces: Map<string, string>;
  close(): Promise<void>;
}

type Session = Record<string, unknown>;

/** fhirclient's Client (what `ready()` resolves to). */
export type SmartClient = Awaited<ReturnType<fhirclient.SMART['ready']>>;

/** fhirclient's Storage over one in-memory session. */
function sessionStorage(session: Session): fhirclient.Storage {
  return {
    get: async (key: string) => session[key],
    set: async (key: string, value: unknown) => {
      session[key] = value;
      return value;
    },
    unset: async (key: string) => {
      const had = Object.prototype.hasOwnProperty.call(session, key);
      delete session[key];
      return had;
    },
  };
}

export async function startFhirclientApp(): Promise<FhirclientApp> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const redirectUri = `${baseUrl}/app/callback`;
  const sessions = new Map<string, Session>();
  const clients = new Map<string, SmartClient>();
  const errors = new Map<string, string>();
  const nonces = new Map<string, string>();
  let settings: { clientId: string; clientSecret: string; scope: string } | undefined;

  const sessionOf = (req: express.Request, res: express.Response): Session => {
    const sid = /(?:^|;\s*)app_sid=([^;]+)/.exec(req.header('cookie') ?? '')?.[1];
    if (sid && sessions.has(sid)) {
      return sessions.get(sid) as Session;
    }
    const fresh = randomUUID();
    sessions.set(fresh, {});
    res.setHeader('Set-Cookie', `app_sid=${fresh}; Path=/; HttpOnly; SameSite=Lax`);
    return sessions.get(fresh) as Session;
  };

  const app = express();
  app.get('/launch', async (req, res) => {
    try {
      if (!settings) {
        throw new Error('the app is not configured');
      }
      const storage = sessionStorage(sessionOf(req, res));
      // noRedirect: the app adds an OpenID Connect nonce (fhirclient does not send one), then redirects.
      const url = (await smart(req, res, storage).authorize({ ...settings, redirectUri, noRedirect: true })) as unknown as string;
      const nonce = randomUUID();
      nonces.set(new URL(url).searchParams.get('state') ?? '', nonce);
      res.redirect(302, `${url}&nonce=${encodeURIComponent(nonce)}`);
    } catch (err) {
      res.status(500).type('text').send(String((err as Error).message));
    }
  });
  app.get('/app/callback', async (req, res) => {
    const state = String(req.query.state ?? '');
    try {
      const client = await smart(req, res, sessionStorage(sessionOf(req, res))).ready();
      clients.set(state, client);
      res.status(200).type('text').send('ready');
    } catch (err) {
      errors.set(state, String((err as Error).message));
      res.status(400).type('text').send(String((err as Error).message));
    }
  });
  server.on('request', app);
  return {
    baseUrl,
    redirectUri,
    configure(s) {
      settings = s;
    },
    clients,
    errors,
    nonces,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
